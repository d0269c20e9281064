namespace Aio.Async;

/// <summary>
/// A per-thread pool of operation objects: renting and returning on the loop thread (where awaits resume) costs no
/// allocation and no synchronisation. Bounded, so operations finished on many pool threads do not pile up.
/// </summary>
internal static class OperationPool<T>
    where T : class, new()
{
    private const int Limit = 256;

    [ThreadStatic]
    private static Stack<T>? t_pool;

    public static T Rent()
    {
        var pool = t_pool;
        return pool is not null && pool.TryPop(out var item) ? item : new T();
    }

    public static void Return(T item)
    {
        var pool = t_pool ??= new Stack<T>();
        if (pool.Count < Limit)
        {
            pool.Push(item);
        }
    }
}
