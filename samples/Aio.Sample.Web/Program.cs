// The sample server of bench/http-compare: plaintext and JSON endpoints (TechEmpower's shapes) on either transport.
//   dotnet Aio.Sample.Web.dll [--urls http://127.0.0.1:5000] [--transport sockets|aio] [--scheduling threadpool|loop]
//                             [--loops N] [--nodelay false] [--inline true]   (--inline: Sockets' UnsafePreferInlineScheduling)
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
app.Run();
return 0;
