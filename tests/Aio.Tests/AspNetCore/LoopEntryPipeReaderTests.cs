using System.Buffers;
using System.IO.Pipelines;
using Aio.AspNetCore;
using Aio.Tests.Support;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// Loop mode's entry reader: a first read from off the loop moves to the loop and resumes there, whatever ends it
/// (data, a cancelled read, the writer's completion or its error); a read on the loop passes straight through.
/// </summary>
public sealed class LoopEntryPipeReaderTests : IDisposable
{
    private readonly IoThread _io = IoThread.Start("entry-reader");
    private readonly LoopPipeScheduler _scheduler;
    private readonly Pipe _pipe;
    private readonly WatchedReader _inner;
    private readonly LoopEntryPipeReader _reader;

    public LoopEntryPipeReaderTests()
    {
        _scheduler = new LoopPipeScheduler(_io.Context);

        // As in the transport: the reader's continuations run on the loop (Kestrel's face of the scheduler).
        _pipe = new Pipe(new PipeOptions(readerScheduler: _scheduler.App, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
        _inner = new WatchedReader(_pipe.Reader);
        _reader = new LoopEntryPipeReader(_inner, _scheduler);
    }

    public void Dispose()
    {
        _scheduler.Dispose();
        _io.Dispose();
    }

    [Fact]
    public async Task A_first_read_that_waits_for_data_resumes_on_the_loop_with_it()
    {
        var read = ReadOffLoop();
        Assert.True(await _inner.FirstReadWasPending.WaitAsync(Wait.Default), "the pipe was empty: the inner read must have been pending");

        await _pipe.Writer.WriteAsync("hello"u8.ToArray()).Within("the write into the pipe");

        var (result, context, bytes) = await read.WaitAsync(Wait.Default);
        Assert.Same(_io.Context, context);
        Assert.Equal("hello"u8.ToArray(), bytes);
        Assert.False(result.IsCanceled);
        Assert.False(result.IsCompleted);
    }

    [Fact]
    public async Task A_first_read_with_data_already_in_the_pipe_resumes_on_the_loop_with_it()
    {
        await _pipe.Writer.WriteAsync("ready"u8.ToArray()).Within("the write into the pipe");

        var (_, context, bytes) = await ReadOffLoop().WaitAsync(Wait.Default);
        Assert.False(await _inner.FirstReadWasPending.WaitAsync(Wait.Default), "data was in the pipe before the read");
        Assert.Same(_io.Context, context);
        Assert.Equal("ready"u8.ToArray(), bytes);
    }

    [Fact]
    public async Task A_first_read_cancelled_while_it_waits_on_the_loop_resumes_there_as_cancelled()
    {
        var read = ReadOffLoop();
        Assert.True(await _inner.FirstReadWasPending.WaitAsync(Wait.Default));

        _reader.CancelPendingRead();

        var (result, context, bytes) = await read.WaitAsync(Wait.Default);
        Assert.Same(_io.Context, context);
        Assert.True(result.IsCanceled);
        Assert.Empty(bytes);
    }

    [Fact]
    public async Task A_first_read_ended_by_the_writers_completion_resumes_on_the_loop_as_completed()
    {
        var read = ReadOffLoop();
        Assert.True(await _inner.FirstReadWasPending.WaitAsync(Wait.Default));

        await _pipe.Writer.CompleteAsync();

        var (result, context, _) = await read.WaitAsync(Wait.Default);
        Assert.Same(_io.Context, context);
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public async Task A_first_read_ended_by_the_writers_error_throws_it_on_the_loop()
    {
        AioContext? where = null;
        var read = Task.Run(async () =>
        {
            try
            {
                await _reader.ReadAsync();
            }
            finally
            {
                where = AioContext.Current;
            }
        });
        Assert.True(await _inner.FirstReadWasPending.WaitAsync(Wait.Default));

        await _pipe.Writer.CompleteAsync(new InvalidDataException("reset by peer"));

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => read.WaitAsync(Wait.Default));
        Assert.Equal("reset by peer", ex.Message);
        Assert.Same(_io.Context, where);
    }

    [Fact]
    public async Task A_read_on_the_loop_passes_straight_through()
    {
        await _pipe.Writer.WriteAsync("inline"u8.ToArray()).Within("the write into the pipe");

        var (completedSynchronously, bytes) = await _io.Context.InvokeAsync(() =>
        {
            var pending = _reader.ReadAsync();
            bool sync = pending.IsCompleted;
            var result = pending.GetAwaiter().GetResult();
            byte[] data = result.Buffer.ToArray();
            _reader.AdvanceTo(result.Buffer.End);
            return Task.FromResult((sync, data));
        }).WaitAsync(Wait.Default);

        Assert.True(completedSynchronously, "on the loop, with data buffered, the read must complete at once (no hop)");
        Assert.Equal("inline"u8.ToArray(), bytes);
    }

    [Fact]
    public void Awaiting_the_first_read_twice_is_refused()
    {
        var first = _reader.ReadAsync();
        var awaiter = first.GetAwaiter();
        awaiter.UnsafeOnCompleted(static () => { });
        Assert.Throws<InvalidOperationException>(() => awaiter.UnsafeOnCompleted(static () => { }));
    }

    /// <summary>Off the loop: reads once, consumes what came, and reports where it resumed.</summary>
    private Task<(ReadResult Result, AioContext? Context, byte[] Bytes)> ReadOffLoop()
        => Task.Run(async () =>
        {
            var result = await _reader.ReadAsync();
            var context = AioContext.Current;
            byte[] bytes = result.Buffer.ToArray();
            _reader.AdvanceTo(result.Buffer.End);
            return (result, context, bytes);
        });

    /// <summary>Passes through to the pipe's reader and records whether its first read had to wait.</summary>
    private sealed class WatchedReader(PipeReader inner) : PipeReader
    {
        private readonly TaskCompletionSource<bool> _firstReadPending = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the first read has been started on the inner reader: true if it was pending.</summary>
        public Task<bool> FirstReadWasPending => _firstReadPending.Task;

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var read = inner.ReadAsync(cancellationToken);
            _firstReadPending.TrySetResult(!read.IsCompleted);
            return read;
        }

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
