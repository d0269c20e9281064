namespace Aio.Hosting;

/// <summary>Options of the loops <see cref="AioServiceCollectionExtensions.AddAio"/> registers.</summary>
public sealed class AioHostOptions
{
    private long? _pollMaxNs;

    /// <summary>Thread name prefix: the loops are <c>Name-0</c>, <c>Name-1</c>, ...</summary>
    public string Name { get; set; } = "aio";

    /// <summary>Loops to start; 0 = <see cref="Environment.ProcessorCount"/>.</summary>
    public int LoopCount { get; set; }

    /// <summary>
    /// How each loop's context is created (null: defaults). Its <see cref="AioContextOptions.PollMaxNs"/> 0 means
    /// <see cref="IoThread.DefaultPollMaxNs"/>, as for every IoThread; <see cref="PollMaxNs"/> turns polling off.
    /// </summary>
    public AioContextOptions? Context { get; set; }

    /// <summary>
    /// The loops' adaptive busy-poll ceiling in nanoseconds (QEMU's <c>poll-max-ns</c>): null = the ceiling of
    /// <see cref="Context"/> (0 there: <see cref="IoThread.DefaultPollMaxNs"/>), 0 = never poll. Applied when the loops
    /// start, before the group is handed out; <see cref="Context"/>'s <c>PollGrow</c> and <c>PollShrink</c> apply either way.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value.</exception>
    public long? PollMaxNs
    {
        get => _pollMaxNs;
        set
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "PollMaxNs must not be negative.");
            }

            _pollMaxNs = value;
        }
    }
}
