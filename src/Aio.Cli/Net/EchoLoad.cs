using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Aio.Cli.Net;

/// <summary>
/// The load generator of <c>aio bench net</c>, run as its own process so that it does not share the server's runtime:
/// <c>connections</c> clients, each sending one <c>size</c>-byte message and waiting for its echo (request/response),
/// or, with size ≥ 1 MiB, streaming writes of that size while reading the echo back (throughput).
/// </summary>
internal static class EchoLoad
{
    /// <summary>Messages this large and larger are streamed (written back to back, echoed bytes counted), not ping-ponged.</summary>
    public const int StreamThreshold = 1 << 20;

    /// <summary>Runs the load; prints one line "requests bytes seconds p50_us p99_us".</summary>
    public static int Run(int port, int connections, int size, TimeSpan warmup, TimeSpan duration)
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var histograms = new LatencyHistogram[connections];
        var requests = new long[connections];
        var bytes = new long[connections];
        var sockets = new Socket[connections];
        for (int i = 0; i < connections; i++)
        {
            histograms[i] = new LatencyHistogram();
            sockets[i] = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            sockets[i].Connect(endPoint);
        }

        bool streaming = size >= StreamThreshold;
        long measureFrom = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        long measureTo = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var tasks = new Task[connections];
        for (int i = 0; i < connections; i++)
        {
            int c = i;
            tasks[i] = streaming
                ? Task.Run(() => StreamAsync(sockets[c], size, measureFrom, measureTo, r => bytes[c] += r))
                : Task.Run(() => PingPongAsync(sockets[c], size, measureFrom, measureTo, histograms[c], () => requests[c]++));
        }

        Task.WaitAll(tasks);
        foreach (var s in sockets)
        {
            s.Dispose();
        }

        var all = new LatencyHistogram();
        foreach (var h in histograms)
        {
            all.Add(h);
        }

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Join(' ',
            requests.Sum().ToString(inv),
            bytes.Sum().ToString(inv),
            duration.TotalSeconds.ToString("0.###", inv),
            (all.Quantile(0.50) / 1000).ToString("0.#", inv),
            (all.Quantile(0.99) / 1000).ToString("0.#", inv)));
        return 0;
    }

    private static async Task PingPongAsync(Socket socket, int size, long from, long to, LatencyHistogram histogram, Action counted)
    {
        var message = GC.AllocateArray<byte>(size, pinned: true);
        var reply = GC.AllocateArray<byte>(size, pinned: true);
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            if (start >= to)
            {
                return;
            }

            await socket.SendAsync(message, SocketFlags.None);
            int got = 0;
            while (got < size)
            {
                int n = await socket.ReceiveAsync(reply.AsMemory(got), SocketFlags.None);
                if (n == 0)
                {
                    throw new IOException("the server closed the connection");
                }

                got += n;
            }

            long end = Stopwatch.GetTimestamp();
            if (start >= from && end <= to)
            {
                histogram.RecordTicks(start, end);
                counted();
            }
        }
    }

    private static async Task StreamAsync(Socket socket, int size, long from, long to, Action<long> counted)
    {
        var chunk = GC.AllocateArray<byte>(size, pinned: true);
        var sink = GC.AllocateArray<byte>(256 * 1024, pinned: true);
        long sent = 0;
        var reader = Task.Run(async () =>
        {
            long received = 0;
            while (true)
            {
                int n = await socket.ReceiveAsync(sink, SocketFlags.None);
                if (n == 0)
                {
                    return;
                }

                long now = Stopwatch.GetTimestamp();
                if (now >= from && now <= to)
                {
                    counted(n);
                }

                received += n;
                if (now > to && received >= Volatile.Read(ref sent))
                {
                    return;
                }
            }
        });
        while (Stopwatch.GetTimestamp() < to)
        {
            await socket.SendAsync(chunk, SocketFlags.None);
            Volatile.Write(ref sent, sent + size);
        }

        socket.Shutdown(SocketShutdown.Send);
        await reader;
    }
}
