using Xunit;

namespace Aio.Tests.Support;

/// <summary>A dedicated thread that creates a context on itself and loops Poll(true) until disposed (an IoThread stand-in for tests).</summary>
public sealed class LoopThread : IDisposable
{
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private volatile bool _stop;
    private AioContext? _context;
    private Exception? _error;

    public LoopThread(AioContextOptions? options = null)
    {
        _thread = new Thread(() =>
        {
            try
            {
                _context = AioContext.Create(options ?? new AioContextOptions { Name = "loop-thread" });
                _context.Poll(false);
                _ready.Set();
                while (!_stop)
                {
                    _context.Poll(true);
                }

                _context.Dispose();
            }
            catch (Exception ex)
            {
                _error = ex;
                _ready.Set();
            }
        })
        { IsBackground = true, Name = "test-loop" };
        _thread.Start();
        Assert.True(_ready.Wait(Wait.Default), "the loop thread did not start");
        Assert.Null(_error);
    }

    public AioContext Context => _context!;

    public void Dispose()
    {
        _stop = true;
        try
        {
            _context?.Notify();
        }
        catch (ObjectDisposedException)
        {
        }

        Wait.Join(_thread, "the loop thread to stop");
        Assert.Null(_error);
    }
}
