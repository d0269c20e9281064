using System.CommandLine;

namespace Aio.Cli.Nbd;

/// <summary><c>aio nbd serve</c>: serve files over NBD.</summary>
internal static class NbdCommands
{
    public static Command Nbd()
    {
        var exports = new Argument<string[]>("FILE|NAME=FILE") { Description = "Files to serve; NAME=FILE names the export (a lone FILE is the default export \"\")", Arity = ArgumentArity.OneOrMore };
        var socket = new Option<string?>("--socket") { Description = "Listen on this Unix socket path" };
        var port = new Option<int?>("--port") { Description = "Listen on this TCP port (default 10809; 0 = any free port)" };
        var bind = new Option<string?>("--bind") { Description = "TCP address to listen on (default 127.0.0.1)" };
        var readOnly = new Option<bool>("--read-only") { Description = "Serve every export read-only" };
        var cache = new Option<string>("--cache") { Description = "none (O_DIRECT) or writeback (page cache)", DefaultValueFactory = _ => "none" };
        var threads = new Option<int>("--threads") { Description = "Loops serving connections (0 = one per processor)", DefaultValueFactory = _ => 0 };
        var maxConnections = new Option<int>("--max-connections") { Description = "Connections served at once", DefaultValueFactory = _ => 100 };
        var description = new Option<string?>("--description") { Description = "Description text of every export" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Server certificate (PEM; intermediate CAs after it are sent with it)" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "Its private key (PEM)" };
        var tls = new Option<string?>("--tls") { Description = "required (default with a certificate) or optional" };
        var handshakeTimeout = new Option<string>("--handshake-timeout") { Description = "Drop clients that have not finished the handshake after this long", DefaultValueFactory = _ => "10s" };
        var inFlight = new Option<int>("--requests") { Description = "Requests in flight per connection", DefaultValueFactory = _ => 128 };
        var bytesInFlight = new Option<string>("--bytes-in-flight") { Description = "Buffer bytes per connection (requests executing, replies unsent) before it stops reading requests", DefaultValueFactory = _ => "64m" };
        var pollMaxNs = new Option<long?>("--poll-max-ns") { Description = "Busy-poll ceiling of each loop in ns, QEMU's poll-max-ns (0 = never poll) [default: 32768]" };

        var serve = new Command("serve", "Serve files over NBD; prints the first export's URI on stdout, then serves until SIGINT/SIGTERM")
        {
            exports, socket, port, bind, readOnly, cache, threads, maxConnections, description, tlsCert, tlsKey, tls, handshakeTimeout, inFlight, bytesInFlight, pollMaxNs,
        };
        serve.SetAction(r => NbdServe.Run(new NbdServeArguments
        {
            Exports = r.GetValue(exports) ?? [],
            Socket = r.GetValue(socket),
            Port = r.GetValue(port),
            Bind = r.GetValue(bind),
            ReadOnly = r.GetValue(readOnly),
            Cache = r.GetValue(cache)!,
            Threads = r.GetValue(threads),
            MaxConnections = r.GetValue(maxConnections),
            Description = r.GetValue(description),
            TlsCert = r.GetValue(tlsCert),
            TlsKey = r.GetValue(tlsKey),
            Tls = r.GetValue(tls),
            HandshakeTimeout = Units.ParseDuration(r.GetValue(handshakeTimeout)!, "--handshake-timeout"),
            RequestsInFlight = r.GetValue(inFlight),
            BytesInFlight = Units.ParseSize(r.GetValue(bytesInFlight)!, "--bytes-in-flight"),
            PollMaxNs = r.GetValue(pollMaxNs),
        }));

        return new Command("nbd", "NBD server") { serve };
    }
}
