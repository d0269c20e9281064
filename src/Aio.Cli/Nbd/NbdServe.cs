using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Aio.Nbd;

namespace Aio.Cli.Nbd;

/// <summary>
/// Runs the server: stdout gets exactly one line (the first export's URI) once it accepts; everything else goes to
/// stderr; SIGINT/SIGTERM drain and exit 0; a bad command line or an unusable file is one line on stderr and exit 2.
/// </summary>
internal static class NbdServe
{
    public static int Run(NbdServeArguments a)
    {
        NbdServerOptions options;
        try
        {
            options = BuildOptions(a);
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine("aio: " + ex.Message);
            return 2;
        }

        NbdServer.Logger = line => Console.Error.WriteLine(line);
        using var stop = new ManualResetEventSlim();
        int signals = 0;

        // The first SIGINT/SIGTERM drains (every request read is answered; a client that reads no replies holds that up
        // to 30 s); a second one ends the process at once, the default action, as a second Ctrl-C does for most servers.
        void OnSignal(PosixSignalContext c)
        {
            c.Cancel = Interlocked.Increment(ref signals) == 1;
            stop.Set();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        NbdServer server;
        try
        {
            server = NbdServer.Start(options);
        }
        catch (SocketException ex)
        {
            // "Address already in use" alone does not say which of the addresses it was.
            Console.Error.WriteLine($"aio: cannot listen on {options.Listen[0]}: {ex.Message}");
            return 2;
        }
        catch (Exception ex) when (ex is AioException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("aio: " + ex.Message.ReplaceLineEndings(" "));
            return 2;
        }

        Console.Out.WriteLine(Uri(server.EndPoints[0], options.Exports[0].Name, options.TlsCertificate is not null));
        Console.Out.Flush();
        stop.Wait();
        Console.Error.WriteLine("aio nbd: stopping");
        server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }

    /// <summary>The NBD URI of <paramref name="export"/> at <paramref name="endPoint"/> (the NBD project's URI spec).</summary>
    public static string Uri(EndPoint endPoint, string export, bool tls)
    {
        string scheme = tls ? "nbds" : "nbd";
        string name = System.Uri.EscapeDataString(export);
        return endPoint switch
        {
            // The socket path is a query value: a space, '&' or '#' in it would end or split the URI.
            UnixDomainSocketEndPoint unix => $"{scheme}+unix:///{name}?socket={EscapeSocketPath(unix.ToString())}",
            // A scoped address's zone ("fe80::1%2") is written %25 in a URI (RFC 6874).
            IPEndPoint ip when ip.AddressFamily == AddressFamily.InterNetworkV6 => $"{scheme}://[{ip.Address.ToString().Replace("%", "%25", StringComparison.Ordinal)}]:{ip.Port}/{name}",
            IPEndPoint ip => $"{scheme}://{ip.Address}:{ip.Port}/{name}",
            _ => endPoint.ToString() ?? "",
        };
    }

    /// <summary>Percent-encodes what a URI query value cannot hold, keeping '/' readable.</summary>
    private static string EscapeSocketPath(string path) => System.Uri.EscapeDataString(path).Replace("%2F", "/", StringComparison.Ordinal);

    private static NbdServerOptions BuildOptions(NbdServeArguments a)
    {
        // Checked here, not by System.CommandLine, whose message for a bad choice spans several lines.
        if (a.Cache is not ("none" or "writeback"))
        {
            throw new UsageException($"--cache: '{a.Cache}' is not none or writeback");
        }

        if (a.Tls is not (null or "required" or "optional"))
        {
            throw new UsageException($"--tls: '{a.Tls}' is not required or optional");
        }

        bool direct = a.Cache == "none";
        var exports = new List<NbdExportOptions>();
        foreach (string spec in a.Exports)
        {
            // An option the parser did not know lands here as a FILE: say so, not "no such file" (./-name serves a
            // file whose name starts with a dash).
            Program.RequireNotOption(spec);
            // NAME=FILE, or a bare FILE: a path with '=' in it that names a file as a whole is that file (split, it
            // would serve another file, or none, under a name made of the path's start).
            int eq = File.Exists(spec) ? -1 : spec.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? "" : spec[..eq];
            string path = eq < 0 ? spec : spec[(eq + 1)..];
            if (path.Length == 0)
            {
                throw new UsageException($"'{spec}': no file");
            }

            // A named pipe would block the open for ever: the type is checked from stat first, as bench does.
            Program.RequireFile(path);

            if (exports.Any(e => e.Name == name))
            {
                throw new UsageException($"export name '{name}' given twice");
            }

            exports.Add(new NbdExportOptions { Path = path, Name = name, Description = a.Description, ReadOnly = a.ReadOnly, Direct = direct });
        }

        if (a.Threads is < 0 or > NbdServer.MaxThreads)
        {
            throw new UsageException($"--threads: between 0 and {NbdServer.MaxThreads}");
        }

        if (a.HandshakeTimeout > NbdServer.MaxHandshakeTimeout)
        {
            throw new UsageException("--handshake-timeout: at most 49 days");
        }

        if (a.PollMaxNs < 0)
        {
            throw new UsageException("--poll-max-ns must not be negative");
        }

        if (a.Socket is not null && (a.Port is not null || a.Bind is not null))
        {
            throw new UsageException("--socket excludes --port and --bind");
        }

        EndPoint listen;
        if (a.Socket is not null)
        {
            try
            {
                listen = new UnixDomainSocketEndPoint(a.Socket);
            }
            catch (ArgumentException)
            {
                // Empty, or longer than sun_path holds.
                throw new UsageException($"--socket: '{a.Socket}' is not a usable socket path (1 to 107 bytes)");
            }
        }
        else
        {
            int port = a.Port ?? 10809;
            if (port is < 0 or > 65535)
            {
                throw new UsageException("--port must be 0..65535");
            }

            if (!IPAddress.TryParse(a.Bind ?? "127.0.0.1", out var address))
            {
                throw new UsageException($"--bind: '{a.Bind}' is not an IP address");
            }

            listen = new IPEndPoint(address, port);
        }

        if (a.Threads < 0 || a.MaxConnections < 1 || a.RequestsInFlight < 1 || a.BytesInFlight < 1)
        {
            throw new UsageException("--threads must be >= 0, --max-connections, --requests and --bytes-in-flight >= 1");
        }

        if ((a.TlsCert is null) != (a.TlsKey is null))
        {
            throw new UsageException("--tls-cert and --tls-key go together");
        }

        if (a.Tls is not null && a.TlsCert is null)
        {
            throw new UsageException("--tls needs --tls-cert and --tls-key");
        }

        X509Certificate2? certificate = null;
        X509Certificate2Collection? chain = null;
        if (a.TlsCert is not null)
        {
            try
            {
                certificate = X509Certificate2.CreateFromPemFile(a.TlsCert, a.TlsKey);

                // The certificates after the server's own, as a CA delivers them: the intermediates clients need to reach
                // the root they trust, sent in every handshake.
                var all = new X509Certificate2Collection();
                all.ImportFromPemFile(a.TlsCert);
                if (all.Count > 1)
                {
                    chain = [.. all.Skip(1)];
                }
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException or UnauthorizedAccessException)
            {
                throw new UsageException($"--tls-cert/--tls-key: {ex.Message}");
            }
        }

        return new NbdServerOptions
        {
            Exports = exports,
            Listen = [listen],
            Threads = a.Threads,
            MaxConnections = a.MaxConnections,
            HandshakeTimeout = a.HandshakeTimeout,
            TlsCertificate = certificate,
            TlsCertificateChain = chain,
            TlsRequired = certificate is not null && a.Tls != "optional",
            MaxRequestsInFlight = a.RequestsInFlight,
            MaxBytesInFlight = a.BytesInFlight,
            PollMaxNs = a.PollMaxNs,
        };
    }
}
