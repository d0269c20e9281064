using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Aio.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// A real Kestrel server (WebApplication) on a loopback port 0 or a given end point, with the chosen transport and
/// captured logs. Every response carries the connection id in <c>x-connection</c>, so tests can check which transport served.
/// </summary>
public sealed class TestWebServer : IAsyncDisposable
{
    private TestWebServer(WebApplication app, TransportKind kind, CapturingLoggerProvider logs, EndPoint endPoint, X509Certificate2? https)
    {
        App = app;
        Kind = kind;
        Logs = logs;
        EndPoint = endPoint;
        Https = https;
    }

    /// <summary>The server's certificate when it serves HTTPS; null for plain HTTP.</summary>
    public X509Certificate2? Https { get; }

    public WebApplication App { get; }

    public TransportKind Kind { get; }

    public CapturingLoggerProvider Logs { get; }

    /// <summary>The bound end point (the real port).</summary>
    public EndPoint EndPoint { get; }

    public int Port => ((IPEndPoint)EndPoint).Port;

    public Uri BaseUri => EndPoint is IPEndPoint ip
        ? new Uri(ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"{Scheme}://[{ip.Address}]:{ip.Port}/" : $"{Scheme}://{ip.Address}:{ip.Port}/")
        : new Uri($"{Scheme}://localhost/");

    private string Scheme => Https is null ? "http" : "https";

    /// <summary>True when the Aio transport is expected to serve.</summary>
    public bool ExpectAio => Kind is TransportKind.AioThreadPool or TransportKind.AioLoop;

    public static async Task<TestWebServer> StartAsync(
        TransportKind kind,
        Action<WebApplication> map,
        EndPoint? listen = null,
        Action<KestrelServerOptions>? kestrel = null,
        Action<AioTransportOptions>? aio = null,
        X509Certificate2? https = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var logs = new CapturingLoggerProvider();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(logs);
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        switch (kind)
        {
            case TransportKind.AioThreadPool:
            case TransportKind.AioLoop:
            case TransportKind.AioRefused:
                builder.WebHost.UseAio(o =>
                {
                    o.LoopCount = 2;
                    o.Scheduling = kind == TransportKind.AioLoop ? AioSchedulingMode.Loop : AioSchedulingMode.ThreadPool;
                    // No stall watch by default: in Loop mode the application's first request runs its first-use work
                    // (JIT, Kestrel's and routing's set-up) on a loop, which on a busy 2-vCPU machine can exceed the
                    // 200 ms threshold, and the transport's stall warning would fail the tests that assert nothing
                    // was logged. Tests of the warning set their own threshold (LoopBlockingServer). AioRefused: as if
                    // the kernel refused io_uring_setup, so the loops fall back to poll and the transport binds nothing.
                    o.ContextOptions = new AioContextOptions
                    {
                        LoopStallThreshold = Timeout.InfiniteTimeSpan,
                        SimulatedIoUringErrno = kind == TransportKind.AioRefused ? 1 : 0,
                    };

                    aio?.Invoke(o);
                });
                break;
        }

        var endPoint = listen ?? new IPEndPoint(IPAddress.Loopback, 0);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Listen(endPoint, listen =>
            {
                if (https is not null)
                {
                    listen.UseHttps(https);
                }
            });

            // The 64 MiB uploads are over Kestrel's default body limit (30 MB).
            o.Limits.MaxRequestBodySize = null;
            kestrel?.Invoke(o);
        });
        var app = builder.Build();
        app.Use((context, next) =>
        {
            context.Response.Headers["x-connection"] = context.Connection.Id;
            return next(context);
        });
        map(app);
        try
        {
            await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch
        {
            // A start that failed (a bind refused with EADDRINUSE) has already started the transport's loops, and only
            // disposing the app's container stops them: left alive, they outlive the test.
            try
            {
                await app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            }
            catch (Exception)
            {
                // The start's failure is the one to report.
            }

            throw;
        }

        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Single();
        EndPoint actual = endPoint is IPEndPoint ip ? new IPEndPoint(ip.Address, new Uri(bound).Port) : endPoint;
        return new TestWebServer(app, kind, logs, actual, https);
    }

    /// <summary>Asserts that the connection id came from the transport this server should be using.</summary>
    public void AssertServedBy(string? connectionId)
    {
        Assert.NotNull(connectionId);
        Assert.True(connectionId!.StartsWith("aio-", StringComparison.Ordinal) == ExpectAio, $"{Kind}: connection {connectionId} was served by the wrong transport");
    }

    /// <summary>
    /// Asserts that the connection layers (Kestrel's server categories and the Aio transport) logged nothing above
    /// <paramref name="max"/> (the Aio fallback's Information line excepted), and nobody logged a warning or worse.
    /// Per-request Information lines of hosting and routing are not the transport's business.
    /// </summary>
    public void AssertNothingLoggedAbove(LogLevel max)
    {
        var loud = Logs.Entries.Where(e =>
            (e.Level >= LogLevel.Warning && e.Level > max) ||
            (e.Level > max && e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal)) ||
            (e.Level > max && e.Category.StartsWith("Aio", StringComparison.Ordinal) && !(e.Level == LogLevel.Information && e.EventId.Name == "IoUringUnavailable"))).ToList();
        Assert.True(loud.Count == 0, "Logged above " + max + ":\n" + string.Join("\n", loud));
    }

    public HttpClient CreateClient()
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) };
        if (Https is { } certificate)
        {
            // Trust exactly the test's self-signed certificate.
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString();
        }

        return new HttpClient(handler) { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A raw TCP connection to the server.</summary>
    public async Task<Socket> ConnectRawAsync()
    {
        var socket = new Socket(EndPoint.AddressFamily, SocketType.Stream, EndPoint.AddressFamily == AddressFamily.Unix ? ProtocolType.Unspecified : ProtocolType.Tcp);
        await socket.ConnectAsync(EndPoint).WaitAsync(TimeSpan.FromSeconds(10));
        return socket;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await App.DisposeAsync();
    }
}
