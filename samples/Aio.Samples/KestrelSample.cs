using Aio.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AioSamples;

/// <summary>A minimal API served by Kestrel on Aio's loops (<c>UseAio</c>, <see cref="AioTransportOptions"/>), asked once by HttpClient.</summary>
internal static class KestrelSample
{
    public static async Task RunAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");          // port 0: the kernel picks one
        builder.WebHost.UseAio(o =>
        {
            o.LoopCount = 2;                                     // an IoThreadGroup of 2 loops (0: one per core)
            o.Scheduling = AioSchedulingMode.Loop;               // parse, handler and send on the connection's loop
        });
        await using var app = builder.Build();
        app.MapGet("/hello", () => $"Hello from {Thread.CurrentThread.Name}");   // the loop's thread
        await app.StartAsync();

        using var http = new HttpClient();
        string url = app.Urls.First();                           // the real port
        string body = await http.GetStringAsync(url + "/hello");
        await app.StopAsync();
        Console.WriteLine($"kestrel: GET /hello -> '{body}'");
    }
}
