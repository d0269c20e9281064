// The sample server of bench/http-compare: plaintext and JSON endpoints (TechEmpower's shapes) and a 1 MiB response
// (GET /bytes/1m: byte i is i % 251, from one cached array) on either transport.
//   dotnet Aio.Sample.Web.dll [--urls http://127.0.0.1:5000] [--transport sockets|aio] [--scheduling threadpool|loop]
//                             [--loops N] [--nodelay false] [--inline true]   (--inline: Sockets' UnsafePreferInlineScheduling)
//                             [--listener-per-loop true]                      (Aio: one SO_REUSEPORT listener per loop)
//                             [--poll-max-ns N]                               (Aio: each loop's busy-poll ceiling, 0 = off)
using Aio.AspNetCore;
using Aio.Sample.Web;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
string transport = builder.Configuration["transport"] ?? "sockets";
string scheduling = builder.Configuration["scheduling"] ?? "threadpool";
int loops = int.TryParse(builder.Configuration["loops"], out int n) ? n : 0;
switch (transport)
{
    case "aio":
        builder.WebHost.UseAio(o =>
        {
            o.LoopCount = loops;
            o.NoDelay = builder.Configuration["nodelay"] != "false";
            o.Scheduling = scheduling == "loop" ? AioSchedulingMode.Loop : AioSchedulingMode.ThreadPool;
            o.ListenerPerLoop = builder.Configuration["listener-per-loop"] == "true";
            o.PollMaxNs = long.TryParse(builder.Configuration["poll-max-ns"], out long pollMaxNs) ? pollMaxNs : null;
        });
        break;
    case "sockets":
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = builder.Configuration["inline"] == "true");
        break;
    default:
        Console.Error.WriteLine($"--transport sockets|aio, not {transport}");
        return 2;
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
app.Run();
return 0;
