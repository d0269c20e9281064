using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>HTTP/1.1 over a raw socket, for what HttpClient cannot do (pipelining, resets at chosen moments).</summary>
public static class RawHttp
{
    public static Task SendAsync(Socket socket, string text) => socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));

    public static string Get(string path, bool close = false) =>
        $"GET {path} HTTP/1.1\r\nHost: localhost\r\n{(close ? "Connection: close\r\n" : string.Empty)}\r\n";

    /// <summary>Reads <paramref name="count"/> responses (each with a Content-Length) and returns their status codes and bodies.</summary>
    public static async Task<List<(int Status, string Body)>> ReadResponsesAsync(Socket socket, int count)
    {
        var responses = new List<(int, string)>();
        var data = new List<byte>();
        var buffer = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (responses.Count < count)
        {
            if (TryParse(data, out var response, out int consumed))
            {
                responses.Add(response);
                data.RemoveRange(0, consumed);
                continue;
            }

            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"the server closed after {responses.Count} of {count} responses");
            data.AddRange(buffer.AsSpan(0, n));
        }

        return responses;
    }

    /// <summary>Reads until the server closes; fails if it does not within the bound.</summary>
    public static async Task<int> ReadToEndAsync(Socket socket)
    {
        var buffer = new byte[8192];
        int total = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0)
            {
                return total;
            }

            total += n;
        }
    }

    private static bool TryParse(List<byte> data, out (int Status, string Body) response, out int consumed)
    {
        response = default;
        consumed = 0;
        string text = Encoding.ASCII.GetString(data.ToArray());
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        var lines = text[..end].Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        int length = 0;
        foreach (var line in lines.Skip(1))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (data.Count < end + 4 + length)
        {
            return false;
        }

        response = (status, text.Substring(end + 4, length));
        consumed = end + 4 + length;
        return true;
    }
}
