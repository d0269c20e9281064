using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Aio.Async;

/// <summary>
/// Detects sync-over-async on the loop: the loop thread blocking, without a timeout, on a task that only this loop
/// can complete (<c>ctx.ReadAsync(...).AsTask().Result</c> in a bottom half). Such a wait never ends: the completion
/// it waits for is delivered by the very iteration it blocks. <see cref="AioSynchronizationContext.Wait"/> asks
/// <see cref="IsWaitOnOwnWork"/> before each unbounded wait of the home thread and throws instead of hanging.
/// </summary>
/// <remarks>
/// <para><b>What counts as the loop's work.</b> The ring operations in flight that were started or are awaited on the
/// home thread (<see cref="RingOperation.IsLoopBound"/>), found at the time of the wait. From what each one's completion resumes (the state its awaiter passed to OnCompleted: an
/// <c>AsTask</c> task, an async method's box), the task continuation graph is followed through tasks, continuation
/// lists, delegates and the fields of continuation objects that hold a task or a delegate. Reaching a synchronous
/// waiter (what <c>Task.Wait</c>, <c>Task.Result</c>, <c>GetAwaiter().GetResult()</c> and <c>Task.WaitAll</c> add to a
/// task before blocking) means the blocked thread waits, directly or through continuations, for the loop's own work.</para>
/// <para><b>Precision.</b> Nothing is timed. Waits that are not on the loop's work (a contended lock, a task another
/// thread completes, a bounded wait) are not refused, with one exotic exception: a synchronous waiter found in the
/// graph is not known to be this thread's, so if another thread is blocked on a task that depends on this loop at the
/// very moment the loop thread starts an unbounded wait on something else, that wait is refused too (both would
/// otherwise wait on a loop that does not run). The graph walk reads <c>Task</c>'s private continuation field; should
/// a runtime rename it, detection switches itself off (false negatives only).</para>
/// </remarks>
internal sealed class LoopBlockingGuard
{
    private const int VisitBudget = 512;
    private static readonly ConcurrentDictionary<Type, FieldInfo[]> s_links = new();
    private static volatile bool s_disabled;

    [ThreadStatic]
    private static bool t_checking;

    private readonly AioContext _context;
    private long _waitsAllowed;

    public LoopBlockingGuard(AioContext context) => _context = context;

    /// <summary>Waits examined and let through (tests synchronise on it: a wait that was checked and is now blocking).</summary>
    internal long WaitsAllowed => Interlocked.Read(ref _waitsAllowed);

    /// <summary>
    /// Home thread, about to block without a timeout: true if the wait is for a task that a loop-bound operation in
    /// flight on this context would complete. Never blocks, never throws.
    /// </summary>
    /// <remarks>
    /// Nothing is tracked per operation: the in-flight operations are found where the loop keeps them anyway (the
    /// ring's request table, the queue of requests from other threads, the completions not yet delivered), only now, on
    /// this rare path. Tracking each operation as it started and ended cost a lock round trip per request.
    /// </remarks>
    public bool IsWaitOnOwnWork()
    {
        if (s_disabled || t_checking)
        {
            return false;
        }

        // The walk itself may wait (type loading, a contended continuation list): those waits come back through the
        // synchronization context and must not recurse into the walk.
        t_checking = true;
        try
        {
            var roots = _context.LoopBoundContinuations();
            if (roots.Count == 0)
            {
                return false;
            }

            if (ReachesSynchronousWaiter(roots))
            {
                return true;
            }

            Interlocked.Increment(ref _waitsAllowed);
            return false;
        }
        catch (Exception) when (!s_disabled)
        {
            // MissingFieldException from the accessor, or reflection refused: detection is best effort.
            s_disabled = true;
            return false;
        }
        finally
        {
            t_checking = false;
        }
    }

    private static bool ReachesSynchronousWaiter(List<object> roots)
    {
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>();
        foreach (var root in roots)
        {
            pending.Push(root);
        }

        while (pending.Count > 0 && visited.Count < VisitBudget)
        {
            var node = pending.Pop();
            if (!visited.Add(node))
            {
                continue;
            }

            switch (node)
            {
                case Task task:
                    if (!task.IsCompleted && ContinuationObject(task) is { } continuation)
                    {
                        pending.Push(continuation);
                    }

                    break;
                case List<object?> list:
                    // Task mutates its continuation list under lock(list); never wait for it here.
                    if (Monitor.TryEnter(list))
                    {
                        try
                        {
                            foreach (var item in list)
                            {
                                if (item is not null)
                                {
                                    pending.Push(item);
                                }
                            }
                        }
                        finally
                        {
                            Monitor.Exit(list);
                        }
                    }

                    break;
                case Delegate d:
                    if (d.Target is { } target)
                    {
                        pending.Push(target);
                    }

                    break;
                default:
                    if (IsSynchronousWaiter(node.GetType()))
                    {
                        return true;
                    }

                    foreach (var field in Links(node.GetType()))
                    {
                        if (field.GetValue(node) is { } next)
                        {
                            pending.Push(next);
                        }
                    }

                    break;
            }
        }

        return false;
    }

    /// <summary>The completion actions Task.Wait/Result/GetResult (SetOnInvokeMres) and Task.WaitAll (SetOnCountdownMres) add before blocking.</summary>
    private static bool IsSynchronousWaiter(Type type)
        => type.DeclaringType == typeof(Task) && type.Name is "SetOnInvokeMres" or "SetOnCountdownMres";

    /// <summary>Fields of a continuation object that lead on: tasks (ContinueWith) and delegates (an await's MoveNext).</summary>
    private static FieldInfo[] Links(Type type) => s_links.GetOrAdd(type, FindLinks);

    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "A trimmed field only shortens the walk: a missed detection, never a false one.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As above, for the base types.")]
    private static FieldInfo[] FindLinks(Type t)
    {
        if (t.Assembly != typeof(Task).Assembly)
        {
            // Only the runtime's own continuation types; user objects are not walked into.
            return [];
        }

        var links = new List<FieldInfo>();
        for (var current = t; current is not null && current != typeof(object); current = current.BaseType)
        {
            foreach (var field in current.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (typeof(Task).IsAssignableFrom(field.FieldType) || typeof(Delegate).IsAssignableFrom(field.FieldType))
                {
                    links.Add(field);
                }
            }
        }

        return [.. links];
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "m_continuationObject")]
    private static extern ref object? ContinuationObject(Task task);
}
