using System.Buffers.Binary;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.Nbd;

/// <summary>
/// A seeded fuzz that checks what the server answers, not only that it survives: random READ, WRITE (with and without
/// FUA), TRIM, WRITE_ZEROES, CACHE and FLUSH requests at unaligned offsets and lengths, in range and past the end of an
/// export whose size is not a multiple of 512, are checked one by one against a model of the export's bytes, and the
/// file against the model at the end. <c>AIO_NBD_FUZZ_SEEDS=1-500</c> runs more seeds than the suite's four.
/// </summary>
public class NbdModelFuzzTests
{
    private const ushort Read = 0;
    private const ushort Write = 1;
    private const ushort Flush = 3;
    private const ushort Trim = 4;
    private const ushort Cache = 5;
    private const ushort WriteZeroes = 6;

    public static TheoryData<int, bool, bool, FdMonitorKind?> Seeds()
    {
        var data = new TheoryData<int, bool, bool, FdMonitorKind?>();
        string? range = Environment.GetEnvironmentVariable("AIO_NBD_FUZZ_SEEDS");
        var (first, last) = range is null ? (1, 4) : (int.Parse(range.Split('-')[0]), int.Parse(range.Split('-')[^1]));
        for (int seed = first; seed <= last; seed++)
        {
            // Structured replies on every other seed; O_DIRECT (bounce buffers, read-modify-write) on two of three; every
            // fourth without io_uring (epoll, or poll(2) on every eighth: fd handlers and BlockFile's threads).
            data.Add(seed, seed % 2 == 0, seed % 3 != 0, seed % 4 != 0 ? null : seed % 8 == 0 ? FdMonitorKind.Poll : FdMonitorKind.Epoll);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_requests_read_back_what_the_model_of_the_export_holds(int seed, bool structured, bool direct, FdMonitorKind? monitor)
    {
        const int size = (1 << 20) + 4096 + 511;
        using var server = Serve(size, direct, monitor);
        var random = new Random(seed);
        var (model, known) = NewModel(size);

        using (var c = new RawNbdClient(server.SocketPath))
        {
            var (exportSize, _) = c.Negotiate(structured: structured);
            Assert.Equal((ulong)size, exportSize);
            for (ulong cookie = 1; cookie <= 300; cookie++)
            {
                ushort type = random.Next(10) switch
                {
                    < 3 => Read,
                    < 6 => Write,
                    6 => Trim,
                    7 => WriteZeroes,
                    8 => Cache,
                    _ => Flush,
                };
                var (offset, length) = Range(random, size, type);
                bool inRange = type == Flush || offset + length <= size;
                ushort flags = 0;
                if (type is Write or WriteZeroes && random.Next(3) == 0)
                {
                    flags |= 1; // FUA
                }

                if (type == WriteZeroes && random.Next(2) == 0)
                {
                    flags |= 2; // NO_HOLE
                }

                if (type == Read && structured && random.Next(2) == 0)
                {
                    flags |= 4; // DF
                }

                byte[]? payload = type == Write ? Bytes(random, (int)length) : null;
                c.SendRequest(flags, type, cookie, offset, (uint)length, payload);
                var (error, data) = structured ? ReadStructured(c, cookie, offset, length, type == Read) : ReadSimple(c, cookie, type == Read ? (int)length : 0);
                string what = $"seed {seed}, request {cookie}: type {type} flags {flags} offset {offset} length {length}";
                if (!inRange)
                {
                    Assert.True(error is 22 or 28, $"{what}: past the end, error {error}, not EINVAL or ENOSPC");
                    continue;
                }

                Assert.True(error == 0, $"{what}: error {error}");
                if (type == Read)
                {
                    AssertReadMatches(what, data, offset, model, known);
                }

                Apply(type, offset, length, payload, model, known);
            }

            c.SendRequest(0, Flush, 1000, 0, 0);
            var (flushError, _) = structured ? ReadStructured(c, 1000, 0, 0, false) : ReadSimple(c, 1000, 0);
            Assert.Equal(0u, flushError);
        }

        AssertFileMatches(server, seed, model, known);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_batches_in_flight_on_two_connections_answer_each_request_as_the_model_says(int seed, bool structured, bool direct, FdMonitorKind? monitor)
    {
        // Up to 64 requests in flight at once, sent in one write: the server runs them concurrently and may answer in
        // any order, structured chunks of different requests interleaved. A batch never has a request that changes
        // bytes overlapping another request of it (the protocol leaves the outcome of such a pair undefined).
        const int size = (1 << 20) + 4096 + 511;
        using var server = Serve(size, direct, monitor);
        var random = new Random(seed);
        var (model, known) = NewModel(size);
        using var first = new RawNbdClient(server.SocketPath);
        using var second = new RawNbdClient(server.SocketPath);
        first.Negotiate(structured: structured);
        second.Negotiate(structured: structured);
        ulong cookie = 0;
        for (int batch = 0; batch < 40; batch++)
        {
            var c = batch % 2 == 0 ? first : second;
            var requests = new Dictionary<ulong, (ushort Type, ulong Offset, ulong Length, byte[]? Payload)>();
            var wire = new List<byte>();
            int count = random.Next(1, 65);
            for (int i = 0; i < count; i++)
            {
                ushort type = random.Next(10) switch { < 4 => Read, < 7 => Write, 7 => Trim, 8 => WriteZeroes, _ => Cache };
                var (offset, length) = Range(random, size, type);
                bool changes = type is Write or Trim or WriteZeroes;
                if (requests.Values.Any(r => (changes || r.Type is Write or Trim or WriteZeroes) && offset < r.Offset + r.Length && r.Offset < offset + length))
                {
                    continue;
                }

                byte[]? payload = type == Write ? Bytes(random, (int)length) : null;
                requests[++cookie] = (type, offset, length, payload);
                wire.AddRange(RawNbdClient.Request((ushort)(type is Write && random.Next(4) == 0 ? 1 : 0), type, cookie, offset, (uint)length, payload));
            }

            // Sent beside the reading: a batch of large READs can fill both directions' buffers, and a client that only
            // reads once it has sent everything would wait on a server waiting for it.
            var sending = Task.Run(() => c.Send([.. wire]));
            var answers = structured ? ReadStructuredAnswers(c, requests) : ReadSimpleAnswers(c, requests);
            Wait.For(sending, "the batch to be sent");
            foreach (var (id, (type, offset, length, payload)) in requests)
            {
                var (error, data) = answers[id];
                string what = $"seed {seed}, batch {batch}, request {id}: type {type} offset {offset} length {length}";
                if (offset + length > size)
                {
                    Assert.True(error is 22 or 28, $"{what}: past the end, error {error}, not EINVAL or ENOSPC");
                    continue;
                }

                Assert.True(error == 0, $"{what}: error {error}");
                if (type == Read)
                {
                    AssertReadMatches(what, data, offset, model, known);
                }
            }

            // Applied after the batch: no read in it overlapped a change.
            foreach (var (type, offset, length, payload) in requests.Values.Where(r => r.Offset + r.Length <= size))
            {
                Apply(type, offset, length, payload, model, known);
            }
        }

        first.SendRequest(0, Flush, ++cookie, 0, 0);
        Assert.Equal(0u, structured ? first.ReadStructuredError(cookie) : first.ReadSimpleReply().Error);
        AssertFileMatches(server, seed, model, known);
    }

    private static Dictionary<ulong, (uint Error, byte[] Data)> ReadSimpleAnswers(RawNbdClient c, Dictionary<ulong, (ushort Type, ulong Offset, ulong Length, byte[]? Payload)> requests)
    {
        var answers = new Dictionary<ulong, (uint Error, byte[] Data)>();
        while (answers.Count < requests.Count)
        {
            var (error, cookie, data) = c.ReadSimpleReply(id => requests.TryGetValue(id, out var r) && r.Type == Read ? (int)r.Length : 0);
            Assert.True(requests.ContainsKey(cookie), $"a reply for cookie {cookie}, which no request of the batch had");
            Assert.True(answers.TryAdd(cookie, (error, data)), $"two replies for cookie {cookie}");
        }

        return answers;
    }

    /// <summary>Structured replies of a batch, demultiplexed by cookie: chunks of different requests may interleave.</summary>
    private static Dictionary<ulong, (uint Error, byte[] Data)> ReadStructuredAnswers(RawNbdClient c, Dictionary<ulong, (ushort Type, ulong Offset, ulong Length, byte[]? Payload)> requests)
    {
        var answers = new Dictionary<ulong, (uint Error, byte[] Data)>();
        var partial = new Dictionary<ulong, (uint Error, byte[] Data, bool[] Covered)>();
        while (answers.Count < requests.Count)
        {
            var r = c.ReadReply();
            Assert.True(requests.TryGetValue(r.Cookie, out var request), $"a reply for cookie {r.Cookie}, which no request of the batch had");
            Assert.False(answers.ContainsKey(r.Cookie), $"a chunk for cookie {r.Cookie} after its last one");
            bool read = request.Type == Read;
            if (r.Simple)
            {
                Assert.False(read && r.SimpleError == 0, "a successful READ answered by a simple reply after STRUCTURED_REPLY");
                answers[r.Cookie] = (r.SimpleError, []);
                continue;
            }

            if (!partial.TryGetValue(r.Cookie, out var state))
            {
                int length = read && request.Offset + request.Length <= (ulong)int.MaxValue ? (int)request.Length : 0;
                state = (0, new byte[length], new bool[length]);
            }

            if ((r.Type & 0x8000) != 0)
            {
                state.Error = state.Error == 0 ? BinaryPrimitives.ReadUInt32BigEndian(r.Payload) : state.Error;
            }
            else if (r.Type is 1 or 2)
            {
                Assert.True(read, $"a data chunk (type {r.Type}) in the reply to a request without data");
                ulong at = BinaryPrimitives.ReadUInt64BigEndian(r.Payload);
                ulong count = r.Type == 1 ? (ulong)(r.Payload.Length - 8) : BinaryPrimitives.ReadUInt32BigEndian(r.Payload.AsSpan(8));
                Assert.True(at >= request.Offset && at + count <= request.Offset + request.Length, $"chunk [{at}, +{count}) outside the request [{request.Offset}, +{request.Length})");
                int start = (int)(at - request.Offset);
                for (int i = 0; i < (int)count; i++)
                {
                    Assert.False(state.Covered[start + i], $"byte {at + (ulong)i} sent twice");
                    state.Covered[start + i] = true;
                    state.Data[start + i] = r.Type == 1 ? r.Payload[8 + i] : (byte)0;
                }
            }

            if ((r.Flags & 1) != 0)
            {
                Assert.True(!read || state.Error != 0 || Array.TrueForAll(state.Covered, b => b), "a successful READ that left bytes out");
                answers[r.Cookie] = (state.Error, state.Data);
                partial.Remove(r.Cookie);
            }
            else
            {
                partial[r.Cookie] = state;
            }
        }

        return answers;
    }

    /// <summary>An export of zeros, every byte known.</summary>
    private static (byte[] Model, bool[] Known) NewModel(int size)
    {
        var known = new bool[size];
        Array.Fill(known, true);
        return (new byte[size], known);
    }

    /// <summary>What a successful request does to the model: bytes written, zeroed, or (trimmed) no longer known.</summary>
    private static void Apply(ushort type, ulong offset, ulong length, byte[]? payload, byte[] model, bool[] known)
    {
        switch (type)
        {
            case Write:
                payload!.CopyTo(model, (int)offset);
                Array.Fill(known, true, (int)offset, (int)length);
                break;
            case WriteZeroes:
                Array.Clear(model, (int)offset, (int)length);
                Array.Fill(known, true, (int)offset, (int)length);
                break;
            case Trim:
                // The protocol leaves trimmed bytes undefined until they are written again.
                Array.Fill(known, false, (int)offset, (int)length);
                break;
        }
    }

    private static void AssertReadMatches(string what, byte[] data, ulong offset, byte[] model, bool[] known)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (known[offset + (ulong)i] && data[i] != model[offset + (ulong)i])
            {
                Assert.Fail($"{what}: byte {offset + (ulong)i} is {data[i]}, the model says {model[offset + (ulong)i]}");
            }
        }
    }

    private static void AssertFileMatches(NbdTestServer server, int seed, byte[] model, bool[] known)
    {
        byte[] file = File.ReadAllBytes(server.ImagePath);
        Assert.Equal(model.Length, file.Length);
        for (int i = 0; i < model.Length; i++)
        {
            if (known[i] && file[i] != model[i])
            {
                Assert.Fail($"seed {seed}: the file's byte {i} is {file[i]}, the model says {model[i]}");
            }
        }
    }

    private static NbdTestServer Serve(int size, bool direct, FdMonitorKind? monitor)
        => new(size: size, direct: direct, configure: monitor is null ? null : o => o with { LoopOptions = new AioContextOptions { Monitor = monitor.Value } });

    /// <summary>Mostly in range at unaligned places, sometimes ending exactly at or past the end, sometimes empty.</summary>
    private static (ulong Offset, ulong Length) Range(Random random, int size, ushort type)
    {
        ulong length = random.Next(8) switch
        {
            0 => 0,
            < 4 => (ulong)random.Next(1, 600),
            < 7 => (ulong)random.Next(1, 20000),
            _ => (ulong)random.Next(60000, 70000),
        };
        if (type == Flush)
        {
            return (0, 0);
        }

        return random.Next(12) switch
        {
            0 => ((ulong)size - Math.Min(length, (ulong)size), Math.Min(length, (ulong)size)),  // ends at the end exactly
            1 => ((ulong)size - (ulong)random.Next(0, 700), length + 1),                        // crosses the end
            2 => ((ulong)size + (ulong)random.Next(0, 4096), length),                           // starts at or past it
            _ => ((ulong)random.NextInt64(0, size - (long)Math.Min(length, (ulong)size) + 1), length),
        };
    }

    private static (uint Error, byte[] Data) ReadSimple(RawNbdClient c, ulong cookie, int dataLength)
    {
        var (error, replyCookie, data) = c.ReadSimpleReply(dataLength);
        Assert.Equal(cookie, replyCookie);
        return (error, data);
    }

    /// <summary>The chunks of one structured reply: data placed by offset (holes read as zeros), or the first error.</summary>
    private static (uint Error, byte[] Data) ReadStructured(RawNbdClient c, ulong cookie, ulong offset, ulong length, bool read)
    {
        var data = new byte[read ? (int)Math.Min(length, 1 << 20) : 0];
        var covered = new bool[data.Length];
        uint error = 0;
        while (true)
        {
            var r = c.ReadReply();
            Assert.Equal(cookie, r.Cookie);
            if (r.Simple)
            {
                // Allowed for a reply without data (the server may answer such requests simply).
                Assert.False(read && r.SimpleError == 0, "a successful READ answered by a simple reply after STRUCTURED_REPLY");
                return (r.SimpleError, data);
            }

            if ((r.Type & 0x8000) != 0)
            {
                error = error == 0 ? BinaryPrimitives.ReadUInt32BigEndian(r.Payload) : error;
            }
            else if (r.Type is 1 or 2)
            {
                Assert.True(read, $"a data chunk (type {r.Type}) in the reply to a request without data");
                ulong at = BinaryPrimitives.ReadUInt64BigEndian(r.Payload);
                ulong count = r.Type == 1 ? (ulong)(r.Payload.Length - 8) : BinaryPrimitives.ReadUInt32BigEndian(r.Payload.AsSpan(8));
                Assert.True(at >= offset && at + count <= offset + length, $"chunk [{at}, +{count}) outside the request [{offset}, +{length})");
                int start = (int)(at - offset);
                for (int i = 0; i < (int)count; i++)
                {
                    Assert.False(covered[start + i], $"byte {at + (ulong)i} sent twice");
                    covered[start + i] = true;
                    data[start + i] = r.Type == 1 ? r.Payload[8 + i] : (byte)0;
                }
            }

            if ((r.Flags & 1) != 0)
            {
                if (read && error == 0)
                {
                    Assert.True(Array.TrueForAll(covered, b => b), "a successful READ that left bytes out");
                }

                return (error, data);
            }
        }
    }

    private static byte[] Bytes(Random random, int length)
    {
        var b = new byte[length];
        random.NextBytes(b);
        return b;
    }
}
