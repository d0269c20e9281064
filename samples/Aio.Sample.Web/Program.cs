// The sample server of bench/http-compare: plaintext and JSON endpoints (TechEmpower's shapes) and a 1 MiB response
// (GET /bytes/1m: byte i is i % 251, from one cached array) on either transport.
//   dotnet Aio.Sample.Web.dll [--urls http://127.0.0.1:5000] [--transport sockets|aio] [--scheduling threadpool|loop]
//                             [--loops N] [--nodelay false] [--inline true]   (--inline: Sockets' UnsafePreferInlineScheduling)
//                             [--listener-per-loop true]                      (Aio: one SO_REUSEPORT listener per loop)
//                             [--poll-max-ns N]                               (Aio: each loop's busy-poll ceiling, 0 = off)
//   GET /transport answers which transport served it ("aio" or "sockets"). An unknown, bad or misplaced switch exits 2.
using Aio.AspNetCore;
using Aio.Sample.Web;

var builder = WebApplication.CreateSlimBuilder(args);

// Only the transports' own messages (Aio's "io_uring is unavailable: Sockets serves" among them) and errors, on stderr:
// a benchmark must see which transport served, and the request path must not log.
builder.Logging.ClearProviders();
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Logging.AddFilter((category, level) =>
    level >= LogLevel.Error || (category == "Aio.AspNetCore" && level >= LogLevel.Information));

// Every switch is checked, its name and its value: a typo silently taken for the default would measure another
// configuration. The host's own switches (--urls, --environment, --contentRoot) pass.
var usage = new List<string>();
string[] known =
[
    "transport", "scheduling", "nodelay", "inline", "listener-per-loop", "loops", "poll-max-ns",
    "urls", "environment", "contentRoot",
];
foreach (string arg in args)
{
    string name = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..].Split('=')[0] : string.Empty;
    if (name.Length > 0 && !known.Contains(name, StringComparer.OrdinalIgnoreCase))
    {
        usage.Add($"unknown switch {arg.Split('=')[0]} (known: --{string.Join(", --", known)})");
    }
}

string transport = Choice("transport", "sockets", "sockets", "aio");
string scheduling = Choice("scheduling", "threadpool", "threadpool", "loop");
bool noDelay = Choice("nodelay", "true", "true", "false") == "true";
bool inline = Choice("inline", "false", "true", "false") == "true";
bool listenerPerLoop = Choice("listener-per-loop", "false", "true", "false") == "true";
int loops = (int)Number("loops", 0, 0, 1024);
long? pollMaxNs = builder.Configuration["poll-max-ns"] is null ? null : Number("poll-max-ns", 0, 0, long.MaxValue);
string[] aioOnly = ["scheduling", "loops", "listener-per-loop", "poll-max-ns"];
foreach (string name in transport == "aio" ? ["inline"] : aioOnly)
{
    if (builder.Configuration[name] is not null)
    {
        usage.Add($"--{name} does not apply to --transport {transport}");
    }
}

if (usage.Count > 0)
{
    Console.Error.WriteLine(string.Join(Environment.NewLine, usage));
    return 2;
}

if (transport == "aio")
{
    builder.WebHost.UseAio(o =>
    {
        o.LoopCount = loops;
        o.NoDelay = noDelay;
        o.Scheduling = scheduling == "loop" ? AioSchedulingMode.Loop : AioSchedulingMode.ThreadPool;
        o.ListenerPerLoop = listenerPerLoop;
        o.PollMaxNs = pollMaxNs;
    });
}
else
{
    builder.WebHost.UseSockets(o =>
    {
        o.NoDelay = noDelay;
        o.UnsafePreferInlineScheduling = inline;
    });
}

builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, SampleJsonContext.Default));
var app = builder.Build();
byte[] hello = "Hello, World!"u8.ToArray();
app.MapGet("/plaintext", (HttpContext context) =>
{
    context.Response.ContentType = "text/plain";
    context.Response.ContentLength = hello.Length;
    return context.Response.Body.WriteAsync(hello).AsTask();
});
app.MapGet("/json", () => Results.Json(new Message("Hello, World!"), SampleJsonContext.Default.Message));

// Large responses: what the send path does with a body far above the write-buffer limit (flow control, many SENDs).
// Built once: the benchmark measures the transport, not the filling of a buffer.
byte[] oneMiB = new byte[1024 * 1024];
for (int i = 0; i < oneMiB.Length; i++)
{
    oneMiB[i] = (byte)(i % 251);
}

app.MapGet("/bytes/1m", (HttpContext context) =>
{
    context.Response.ContentType = "application/octet-stream";
    context.Response.ContentLength = oneMiB.Length;
    return context.Response.Body.WriteAsync(oneMiB).AsTask();
});

// Which transport served this request: the Aio transport names its connections "aio-N". bench/http-compare checks it,
// so that a server that fell back to Sockets (io_uring refused) is not measured as Aio.
app.MapGet("/transport", (HttpContext context) => context.Connection.Id.StartsWith("aio-", StringComparison.Ordinal) ? "aio" : "sockets");
app.Run();
return 0;

string Choice(string name, string fallback, params string[] allowed)
{
    string? value = builder.Configuration[name];
    if (value is null)
    {
        return fallback;
    }

    if (Array.IndexOf(allowed, value) < 0)
    {
        usage.Add($"--{name} {string.Join('|', allowed)}, not {value}");
        return fallback;
    }

    return value;
}

long Number(string name, long fallback, long min, long max)
{
    string? value = builder.Configuration[name];
    if (value is null)
    {
        return fallback;
    }

    var invariant = System.Globalization.CultureInfo.InvariantCulture;
    if (!long.TryParse(value, System.Globalization.NumberStyles.None, invariant, out long number) || number < min || number > max)
    {
        usage.Add($"--{name} takes a whole number from {min} to {max}, not {value}");
        return fallback;
    }

    return number;
}
