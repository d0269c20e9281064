using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Aio.Interop;
using Aio.Tests.Support;
using Aio.Uring;
using Xunit;

namespace Aio.Tests.Interop;

/// <summary>
/// Pins every kernel struct layout and constant against include/uapi/linux/io_uring.h, poll.h, eventpoll.h and
/// fcntl.h. The expected numbers are written out by hand from the headers on purpose: a wrong copy in the source
/// must disagree with an independent copy here.
/// </summary>
public class AbiTests
{
    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public void Sqe_is_64_bytes_with_kernel_field_offsets()
    {
        Assert.Equal(64, Unsafe.SizeOf<Sqe>());
        Assert.Equal(0, Offset<Sqe>("_opcode"));
        Assert.Equal(1, Offset<Sqe>("_flags"));
        Assert.Equal(2, Offset<Sqe>("_ioprio"));
        Assert.Equal(4, Offset<Sqe>("_fd"));
        Assert.Equal(8, Offset<Sqe>("_off"));
        Assert.Equal(16, Offset<Sqe>("_addr"));
        Assert.Equal(24, Offset<Sqe>("_len"));
        Assert.Equal(28, Offset<Sqe>("_opFlags"));
        Assert.Equal(32, Offset<Sqe>("_userData"));
        Assert.Equal(40, Offset<Sqe>("_bufIndex"));
        Assert.Equal(42, Offset<Sqe>("_personality"));
        Assert.Equal(44, Offset<Sqe>("_spliceFdIn"));
        Assert.Equal(48, Offset<Sqe>("_addr3"));
        Assert.Equal(56, Offset<Sqe>("_pad2"));
    }

    [Fact]
    public void Cqe_is_16_bytes_with_kernel_field_offsets()
    {
        Assert.Equal(16, Unsafe.SizeOf<Cqe>());
        Assert.Equal(0, Offset<Cqe>("_userData"));
        Assert.Equal(8, Offset<Cqe>("_res"));
        Assert.Equal(12, Offset<Cqe>("_flags"));
    }

    [Fact]
    public void Io_uring_params_and_ring_offsets_match_the_header()
    {
        Assert.Equal(120, Unsafe.SizeOf<IoUringParams>());
        Assert.Equal(0, Offset<IoUringParams>(nameof(IoUringParams.SqEntries)));
        Assert.Equal(4, Offset<IoUringParams>(nameof(IoUringParams.CqEntries)));
        Assert.Equal(8, Offset<IoUringParams>(nameof(IoUringParams.Flags)));
        Assert.Equal(12, Offset<IoUringParams>(nameof(IoUringParams.SqThreadCpu)));
        Assert.Equal(16, Offset<IoUringParams>(nameof(IoUringParams.SqThreadIdle)));
        Assert.Equal(20, Offset<IoUringParams>(nameof(IoUringParams.Features)));
        Assert.Equal(24, Offset<IoUringParams>(nameof(IoUringParams.WqFd)));
        Assert.Equal(28, Offset<IoUringParams>(nameof(IoUringParams.Resv0)));
        Assert.Equal(40, Offset<IoUringParams>(nameof(IoUringParams.SqOff)));
        Assert.Equal(80, Offset<IoUringParams>(nameof(IoUringParams.CqOff)));

        Assert.Equal(40, Unsafe.SizeOf<SqRingOffsets>());
        Assert.Equal(0, Offset<SqRingOffsets>(nameof(SqRingOffsets.Head)));
        Assert.Equal(4, Offset<SqRingOffsets>(nameof(SqRingOffsets.Tail)));
        Assert.Equal(8, Offset<SqRingOffsets>(nameof(SqRingOffsets.RingMask)));
        Assert.Equal(12, Offset<SqRingOffsets>(nameof(SqRingOffsets.RingEntries)));
        Assert.Equal(16, Offset<SqRingOffsets>(nameof(SqRingOffsets.Flags)));
        Assert.Equal(20, Offset<SqRingOffsets>(nameof(SqRingOffsets.Dropped)));
        Assert.Equal(24, Offset<SqRingOffsets>(nameof(SqRingOffsets.Array)));
        Assert.Equal(32, Offset<SqRingOffsets>(nameof(SqRingOffsets.UserAddr)));

        Assert.Equal(40, Unsafe.SizeOf<CqRingOffsets>());
        Assert.Equal(0, Offset<CqRingOffsets>(nameof(CqRingOffsets.Head)));
        Assert.Equal(4, Offset<CqRingOffsets>(nameof(CqRingOffsets.Tail)));
        Assert.Equal(8, Offset<CqRingOffsets>(nameof(CqRingOffsets.RingMask)));
        Assert.Equal(12, Offset<CqRingOffsets>(nameof(CqRingOffsets.RingEntries)));
        Assert.Equal(16, Offset<CqRingOffsets>(nameof(CqRingOffsets.Overflow)));
        Assert.Equal(20, Offset<CqRingOffsets>(nameof(CqRingOffsets.Cqes)));
        Assert.Equal(24, Offset<CqRingOffsets>(nameof(CqRingOffsets.Flags)));
        Assert.Equal(32, Offset<CqRingOffsets>(nameof(CqRingOffsets.UserAddr)));
    }

    [Fact]
    public void Small_kernel_structs_match_the_headers()
    {
        Assert.Equal(16, Unsafe.SizeOf<IoUringProbeHeader>());
        Assert.Equal(0, Offset<IoUringProbeHeader>(nameof(IoUringProbeHeader.LastOp)));
        Assert.Equal(1, Offset<IoUringProbeHeader>(nameof(IoUringProbeHeader.OpsLen)));
        Assert.Equal(8, Unsafe.SizeOf<IoUringProbeOp>());
        Assert.Equal(2, Offset<IoUringProbeOp>(nameof(IoUringProbeOp.Flags)));
        Assert.Equal(1, IoUringProbeOp.Supported);

        Assert.Equal(16, Unsafe.SizeOf<KernelTimespec>());
        Assert.Equal(8, Offset<KernelTimespec>(nameof(KernelTimespec.Nanoseconds)));

        Assert.Equal(24, Unsafe.SizeOf<GetEventsArg>());
        Assert.Equal(8, Offset<GetEventsArg>(nameof(GetEventsArg.SigMaskSize)));
        Assert.Equal(12, Offset<GetEventsArg>(nameof(GetEventsArg.MinWaitUsec)));
        Assert.Equal(16, Offset<GetEventsArg>(nameof(GetEventsArg.Ts)));

        Assert.Equal(8, Unsafe.SizeOf<NativePollFd>());
        Assert.Equal(4, Offset<NativePollFd>(nameof(NativePollFd.Events)));
        Assert.Equal(6, Offset<NativePollFd>(nameof(NativePollFd.REvents)));

        Assert.Equal(16, Unsafe.SizeOf<IoVec>());
        Assert.Equal(8, Offset<IoVec>(nameof(IoVec.Length)));

        Assert.Equal(16, Unsafe.SizeOf<RsrcUpdate>());
        Assert.Equal(8, Offset<RsrcUpdate>(nameof(RsrcUpdate.Data)));

        // struct io_uring_rsrc_register and io_uring_rsrc_update2 (linux/io_uring.h, 5.13).
        Assert.Equal(32, Unsafe.SizeOf<RsrcRegister>());
        Assert.Equal(4, Offset<RsrcRegister>(nameof(RsrcRegister.Flags)));
        Assert.Equal(16, Offset<RsrcRegister>(nameof(RsrcRegister.Data)));
        Assert.Equal(24, Offset<RsrcRegister>(nameof(RsrcRegister.Tags)));
        Assert.Equal(32, Unsafe.SizeOf<RsrcUpdate2>());
        Assert.Equal(8, Offset<RsrcUpdate2>(nameof(RsrcUpdate2.Data)));
        Assert.Equal(16, Offset<RsrcUpdate2>(nameof(RsrcUpdate2.Tags)));
        Assert.Equal(24, Offset<RsrcUpdate2>(nameof(RsrcUpdate2.Nr)));

        Assert.Equal(144, Unsafe.SizeOf<RUsage>());
        Assert.Equal(16, Offset<RUsage>(nameof(RUsage.SystemSeconds)));
    }

    [Fact]
    public void Epoll_event_is_packed_on_x86_64()
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            Assert.Equal(12, EpollEvent.Size);
            Assert.Equal(4, EpollEvent.DataOffset);
        }
        else
        {
            Assert.Equal(16, EpollEvent.Size);
            Assert.Equal(8, EpollEvent.DataOffset);
        }
    }

    [Fact]
    public void Io_uring_constants_match_the_header()
    {
        Assert.Equal(1u << 6, IoUringConstants.SetupRDisabled);
        Assert.Equal(1u << 7, IoUringConstants.SetupSubmitAll);
        Assert.Equal(1u << 3, IoUringConstants.SetupCqSize);
        Assert.Equal(1u << 8, IoUringConstants.SetupCoopTaskrun);
        Assert.Equal(1u << 9, IoUringConstants.SetupTaskrunFlag);
        Assert.Equal(1u << 12, IoUringConstants.SetupSingleIssuer);
        Assert.Equal(1u << 13, IoUringConstants.SetupDeferTaskrun);
        Assert.Equal(1u << 16, IoUringConstants.SetupNoSqArray);
        Assert.Equal(1u << 0, IoUringConstants.FeatSingleMmap);
        Assert.Equal(1u << 1, IoUringConstants.FeatNoDrop);
        Assert.Equal(1u << 8, IoUringConstants.FeatExtArg);
        Assert.Equal(1u << 0, IoUringConstants.EnterGetEvents);
        Assert.Equal(1u << 3, IoUringConstants.EnterExtArg);
        Assert.Equal(1u << 4, IoUringConstants.EnterRegisteredRing);
        Assert.Equal(1u << 1, IoUringConstants.SqCqOverflow);
        Assert.Equal(1u << 2, IoUringConstants.SqTaskrun);
        Assert.Equal(1u << 1, IoUringConstants.CqeFMore);
        Assert.Equal(0L, IoUringConstants.OffSqRing);
        Assert.Equal(0x8000000L, IoUringConstants.OffCqRing);
        Assert.Equal(0x10000000L, IoUringConstants.OffSqes);
        Assert.Equal(8u, IoUringConstants.RegisterProbe);
        Assert.Equal(12u, IoUringConstants.RegisterEnableRings);
        Assert.Equal(20u, IoUringConstants.RegisterRingFds);
        Assert.Equal(21u, IoUringConstants.UnregisterRingFds);
        Assert.Equal(2u, IoUringConstants.RegisterFiles);
        Assert.Equal(13u, IoUringConstants.RegisterFiles2);
        Assert.Equal(6u, IoUringConstants.RegisterFilesUpdate);
        Assert.Equal(15u, IoUringConstants.RegisterBuffers2);
        Assert.Equal(16u, IoUringConstants.RegisterBuffersUpdate);
        Assert.Equal(1u, IoUringConstants.RsrcRegisterSparse);
        Assert.Equal(1u, IoUringConstants.FsyncDatasync);
        Assert.Equal(1u, IoUringConstants.PollAddMulti);
        Assert.Equal(1u << 1, IoUringConstants.AsyncCancelFd);
        Assert.Equal((1u << 0, 1u << 2), (IoUringConstants.AsyncCancelAll, IoUringConstants.AsyncCancelAny));
        Assert.Equal((1u << 0, 1u << 1, 1u << 2), (IoUringConstants.SetupIoPoll, IoUringConstants.SetupSqPoll, IoUringConstants.SetupSqAff));
        Assert.Equal((1u << 4, 1u << 5, 1u << 10, 1u << 11), (IoUringConstants.SetupClamp, IoUringConstants.SetupAttachWq, IoUringConstants.SetupSqe128, IoUringConstants.SetupCqe32));
        Assert.Equal((1u << 14, 1u << 15), (IoUringConstants.SetupNoMmap, IoUringConstants.SetupRegisteredFdOnly));
        Assert.Equal((1u << 2, 1u << 3, 1u << 4, 1u << 5), (IoUringConstants.FeatSubmitStable, IoUringConstants.FeatRwCurPos, IoUringConstants.FeatCurPersonality, IoUringConstants.FeatFastPoll));
        Assert.Equal((1u << 6, 1u << 7, 1u << 9, 1u << 10), (IoUringConstants.FeatPoll32Bits, IoUringConstants.FeatSqPollNonFixed, IoUringConstants.FeatNativeWorkers, IoUringConstants.FeatRsrcTags));
        Assert.Equal((1u << 11, 1u << 12, 1u << 13), (IoUringConstants.FeatCqeSkip, IoUringConstants.FeatLinkedFile, IoUringConstants.FeatRegRegRing));
        Assert.Equal((1u << 1, 1u << 2, 1u << 0), (IoUringConstants.EnterSqWakeup, IoUringConstants.EnterSqWait, IoUringConstants.SqNeedWakeup));
        Assert.Equal((1u << 0, 1u << 2, 1u << 3), (IoUringConstants.CqeFBuffer, IoUringConstants.CqeFSockNonEmpty, IoUringConstants.CqeFNotif));
        Assert.Equal((4u, 5u), (IoUringConstants.RegisterEventFd, IoUringConstants.UnregisterEventFd));
        Assert.Equal((1u << 1, 1u << 2, 1u << 0), (IoUringConstants.PollUpdateEvents, IoUringConstants.PollUpdateUserData, IoUringConstants.TimeoutAbs));
        Assert.Equal((64, 16), (IoUringConstants.SqeSize, IoUringConstants.CqeSize));

        // The networking side: IORING_ACCEPT_MULTISHOT, IORING_RECVSEND_POLL_FIRST, IORING_RECV_MULTISHOT, the provided
        // buffer ring's registration codes, IORING_CQE_BUFFER_SHIFT, and struct io_uring_buf (16 bytes; the ring's tail
        // overlays the first entry's resv at offset 14) and io_uring_buf_reg (40 bytes).
        Assert.Equal((1, 1, 2), (IoUringNetConstants.AcceptMultishot, IoUringNetConstants.RecvSendPollFirst, IoUringNetConstants.RecvMultishot));
        Assert.Equal((22u, 23u, 16), (IoUringNetConstants.RegisterPbufRing, IoUringNetConstants.UnregisterPbufRing, IoUringNetConstants.CqeBufferShift));
        Assert.Equal((16, 14, 40), (IoUringNetConstants.BufSize, IoUringNetConstants.BufRingTailOffset, IoUringNetConstants.BufRegSize));
        Assert.Equal(425L, Libc.SYS_io_uring_setup);
        Assert.Equal(426L, Libc.SYS_io_uring_enter);
        Assert.Equal(427L, Libc.SYS_io_uring_register);
    }

    [Fact]
    public void Every_opcode_has_the_value_of_its_name_in_the_kernel_enum()
    {
        // enum io_uring_op in include/uapi/linux/io_uring.h, in order (IORING_OP_ left off): a value is its position.
        string[] kernel =
        [
            "NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD", "POLL_REMOVE", "SYNC_FILE_RANGE",
            "SENDMSG", "RECVMSG", "TIMEOUT", "TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL", "LINK_TIMEOUT", "CONNECT",
            "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX", "READ", "WRITE", "FADVISE", "MADVISE", "SEND", "RECV",
            "OPENAT2", "EPOLL_CTL", "SPLICE", "PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT",
            "UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT", "MSG_RING", "FSETXATTR", "SETXATTR", "FGETXATTR", "GETXATTR",
            "SOCKET", "URING_CMD", "SEND_ZC", "SENDMSG_ZC", "READ_MULTISHOT", "WAITID", "FUTEX_WAIT", "FUTEX_WAKE",
            "FUTEX_WAITV", "FIXED_FD_INSTALL", "FTRUNCATE", "BIND", "LISTEN", "RECV_ZC", "EPOLL_WAIT", "READV_FIXED",
            "WRITEV_FIXED",
        ];
        foreach (var opcode in Enum.GetValues<IoUringOpcode>())
        {
            int value = (int)opcode;
            Assert.True(value < kernel.Length, $"{opcode} = {value} is past the kernel's enum");
            Assert.Equal(kernel[value].Replace("_", "", StringComparison.Ordinal), opcode.ToString().ToUpperInvariant());
        }
    }

    [Fact]
    public void Opcode_values_match_the_kernel_enum()
    {
        Assert.Equal(0, (int)IoUringOpcode.Nop);
        Assert.Equal(1, (int)IoUringOpcode.Readv);
        Assert.Equal(2, (int)IoUringOpcode.Writev);
        Assert.Equal(3, (int)IoUringOpcode.Fsync);
        Assert.Equal(6, (int)IoUringOpcode.PollAdd);
        Assert.Equal(7, (int)IoUringOpcode.PollRemove);
        Assert.Equal(11, (int)IoUringOpcode.Timeout);
        Assert.Equal(13, (int)IoUringOpcode.Accept);
        Assert.Equal(14, (int)IoUringOpcode.AsyncCancel);
        Assert.Equal(16, (int)IoUringOpcode.Connect);
        Assert.Equal(19, (int)IoUringOpcode.Close);
        Assert.Equal(22, (int)IoUringOpcode.Read);
        Assert.Equal(23, (int)IoUringOpcode.Write);
        Assert.Equal(26, (int)IoUringOpcode.Send);
        Assert.Equal(27, (int)IoUringOpcode.Recv);
        Assert.Equal(47, (int)IoUringOpcode.SendZc);
        Assert.Equal(49, (int)IoUringOpcode.ReadMultishot);
        Assert.Equal(61, (int)IoUringOpcode.WritevFixed);

        // The enum is dense from NOP to its last member, like the kernel's.
        var values = Enum.GetValues<IoUringOpcode>().Select(v => (int)v).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, values.Length), values);
    }

    [Fact]
    public void Sqe_and_poll_flag_values_match_the_headers()
    {
        Assert.Equal(1, (int)SqeFlags.FixedFile);
        Assert.Equal(2, (int)SqeFlags.IoDrain);
        Assert.Equal(4, (int)SqeFlags.IoLink);
        Assert.Equal(8, (int)SqeFlags.IoHardlink);
        Assert.Equal(16, (int)SqeFlags.Async);
        Assert.Equal(32, (int)SqeFlags.BufferSelect);
        Assert.Equal(64, (int)SqeFlags.CqeSkipSuccess);
        Assert.Equal(Libc.POLLIN, (short)PollEvents.In);
        Assert.Equal(Libc.POLLPRI, (short)PollEvents.Pri);
        Assert.Equal(Libc.POLLOUT, (short)PollEvents.Out);
        Assert.Equal(Libc.POLLERR, (short)PollEvents.Err);
        Assert.Equal(Libc.POLLHUP, (short)PollEvents.Hup);
        Assert.Equal(0x20, Libc.POLLNVAL);
        Assert.Equal(0x80000, Libc.O_CLOEXEC);
        Assert.Equal(0x800, Libc.O_NONBLOCK);
        Assert.Equal(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x10000 : 0x4000, Libc.O_DIRECT);
    }

    [Fact]
    public void Socket_flag_values_match_the_headers()
    {
        // include/linux/socket.h (MSG_*) and sys/socket.h (SHUT_*), as glibc defines them on Linux.
        Assert.Equal(0x40, Libc.MSG_DONTWAIT);
        Assert.Equal(0x4000, Libc.MSG_NOSIGNAL);
        Assert.Equal(0x8000, Libc.MSG_MORE);
        Assert.Equal((0, 1, 2), (Libc.SHUT_RD, Libc.SHUT_WR, Libc.SHUT_RDWR));
    }

    [Fact]
    public void Statx_identity_fields_match_the_headers_and_stat()
    {
        // include/uapi/linux/stat.h and fcntl.h.
        Assert.Equal(0x100u, Libc.STATX_INO);
        Assert.Equal(0x100, Libc.AT_SYMLINK_NOFOLLOW);
        Assert.Equal(32, Libc.StatxInoOffset);
        Assert.Equal(136, Libc.StatxDevMajorOffset);
        Assert.Equal(140, Libc.StatxDevMinorOffset);

        // And what coreutils' stat(1) says of the same file: inode, device major and minor.
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("identity", 1);
        var identity = Libc.FileIdentity(path);
        Assert.NotNull(identity);
        var (code, stdout, stderr) = ChildProcess.Run("stat", dir.Path, Wait.Default, "-c", "%i %Hd %Ld", path);
        Assert.True(code == 0, stderr);
        Assert.Equal($"{identity.Value.Inode} {identity.Value.DevMajor} {identity.Value.DevMinor}", stdout.Trim());
        Assert.Null(Libc.FileIdentity(Path.Combine(dir.Path, "missing")));
    }

    [Fact]
    public void Statx_fields_of_an_open_fd_match_the_headers_and_stat()
    {
        // include/uapi/linux/stat.h: the mask bits and struct statx's offsets (the same on every architecture).
        Assert.Equal((0x1u, 0x2u, 0x8u, 0x200u), (Libc.STATX_TYPE, Libc.STATX_MODE, Libc.STATX_UID, Libc.STATX_SIZE));
        Assert.Equal((20, 28, 40), (Libc.StatxUidOffset, Libc.StatxModeOffset, Libc.StatxSizeOffset));
        Assert.Equal((128, 132), (Libc.StatxRdevMajorOffset, Libc.StatxRdevMinorOffset));
        Assert.Equal(0x1000, Libc.AT_EMPTY_PATH);

        // And what coreutils' stat(1) says of the same file: size, mode (octal, type bits included), owner.
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("fields", 12345);
        WithOpenFile(path, fd =>
        {
            var (size, mode) = Libc.FileSizeAndMode(fd);
            uint owner = Libc.FileOwner(fd);
            Assert.Equal(0, Libc.FileIdentity(fd, out _, out ulong inode));
            var (code, stdout, stderr) = ChildProcess.Run("stat", dir.Path, Wait.Default, "-c", "%s %f %u %i", path);
            Assert.True(code == 0, stderr);
            Assert.Equal($"{size} {mode:x} {owner} {inode}", stdout.Trim());
            Assert.Null(Libc.BlockDeviceNumber(fd));
        });
    }

    [Fact]
    public void The_fstat_fallback_puts_struct_stats_fields_where_statx_has_them()
    {
        // Where a sandbox refuses statx, fstat(2) answers: its struct stat (x86_64 and arm64 layouts differ) converted
        // must read as statx's own answer for the same fd.
        Assert.Equal(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 80L : 5L, Libc.SYS_fstat);
        using var dir = new TempDir();
        var (path, _) = dir.CreateFile("fields", 54321);
        WithOpenFile(path, fd =>
        {
            var (size, mode) = Libc.FileSizeAndMode(fd);
            Assert.Equal(0, Libc.FileIdentity(fd, out ulong device, out ulong inode));
            Assert.Equal(54321L, size);
            Assert.Equal((size, mode, Libc.FileOwner(fd), inode, device), Libc.FieldsThroughFstat(fd));
        });
    }

    /// <summary>Runs <paramref name="body"/> with <paramref name="path"/> open read-only, then closes it.</summary>
    private static void WithOpenFile(string path, Action<int> body)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        Assert.True(fd >= 0, "open");
        try
        {
            body(fd);
        }
        finally
        {
            Libc.CloseQuietly(fd);
        }
    }

    [Fact]
    public void No_libc_import_binds_a_symbol_that_older_or_other_libcs_lack()
    {
        // fstat, stat and lstat are symbols of glibc only from 2.33 on (before, inline wrappers around __fxstat and its
        // kin); the *64 names are glibc's large-file aliases, which musl 1.2.4 dropped. On LP64 the plain names take
        // 64-bit offsets anyway.
        var entryPoints = typeof(Libc).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.DeclaredOnly))
            .Select(m => m.GetCustomAttributes(typeof(LibraryImportAttribute), false).OfType<LibraryImportAttribute>().FirstOrDefault())
            .Where(a => a is not null && a.LibraryName == "libc")
            .Select(a => a!.EntryPoint!)
            .ToList();
        Assert.Contains("statx", entryPoints);
        Assert.DoesNotContain(entryPoints, e => e is "fstat" or "stat" or "lstat" or "fstatat" || e.EndsWith("64", StringComparison.Ordinal));
    }

    [Fact]
    public void Memory_mapping_flags_match_the_headers()
    {
        // include/uapi/asm-generic/mman-common.h and mman.h (the same on x86-64 and arm64).
        Assert.Equal(0x1, Libc.PROT_READ);
        Assert.Equal(0x2, Libc.PROT_WRITE);
        Assert.Equal(0x01, Libc.MAP_SHARED);
        Assert.Equal(0x02, Libc.MAP_PRIVATE);
        Assert.Equal(0x20, Libc.MAP_ANONYMOUS);
        Assert.Equal(0x8000, Libc.MAP_POPULATE);
    }

    [Fact]
    public void Prep_helpers_fill_the_documented_fields()
    {
        var sqe = default(Sqe);
        sqe.PrepRead(7, 0x1000, 4096, 8192);
        Assert.Equal(IoUringOpcode.Read, sqe.Opcode);
        Assert.Equal(7, sqe.Fd);
        Assert.Equal(0x1000UL, sqe.Address);
        Assert.Equal(4096u, sqe.Length);
        Assert.Equal(8192UL, sqe.Offset);

        sqe.Flags = SqeFlags.Async;
        sqe.PrepFsync(3, dataOnly: true);
        Assert.Equal(SqeFlags.None, sqe.Flags);
        Assert.Equal(1u, sqe.OpFlags);

        sqe.PrepPollAdd(5, PollEvents.In | PollEvents.Out, multishot: true);
        Assert.Equal(IoUringOpcode.PollAdd, sqe.Opcode);
        Assert.Equal(5u, sqe.OpFlags);
        Assert.Equal(1u, sqe.Length);

        sqe.PrepTimeout(0x2000, 3, 1);
        Assert.Equal(1u, sqe.Length);
        Assert.Equal(3UL, sqe.Offset);
        Assert.Equal(1u, sqe.OpFlags);
    }
}
