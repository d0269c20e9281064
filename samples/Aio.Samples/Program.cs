// The examples the README quotes, one file per topic; each prints what it did and exits 0.
//   dotnet Aio.Samples.dll blockfile|fd|timers|ring|sockets|glib|hosting|kestrel|nbd
// tests/Aio.Tests/Samples/SamplesTests.cs runs every one of them and checks its output.
using AioSamples;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Aio.Samples blockfile|fd|timers|ring|sockets|glib|hosting|kestrel|nbd");
    return 2;
}

switch (args[0])
{
    case "blockfile":
        await BlockFileSample.RunAsync();
        break;
    case "fd":
        FdHandlerSample.Run();
        break;
    case "timers":
        await TimersSample.RunAsync();
        break;
    case "ring":
        await RingSample.RunAsync();
        break;
    case "sockets":
        await SocketsSample.RunAsync();
        break;
    case "glib":
        GLibSample.Run();
        break;
    case "hosting":
        await HostingSample.RunAsync();
        break;
    case "kestrel":
        await KestrelSample.RunAsync();
        break;
    case "nbd":
        await NbdSample.RunAsync();
        break;
    default:
        Console.Error.WriteLine($"unknown sample: {args[0]}");
        return 2;
}

return 0;
