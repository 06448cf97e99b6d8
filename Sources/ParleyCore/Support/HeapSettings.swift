import CMalloc

/// How the process's allocator (glibc's) holds on to memory it frees.
public enum HeapSettings {
    /// Keeps freed memory in the process rather than giving it back to the kernel at once; call
    /// it first thing, before the threads that allocate start.
    ///
    /// By default glibc hands a heap's free top back as soon as about 128 KiB lie there, and
    /// serves blocks over 128 KiB from mappings of their own until it has seen such blocks
    /// freed. Where allocations come and go in bursts, as every Parley process's do, pages were
    /// handed back and faulted in again, zeroed, many times a second (5% of a gateway's samples
    /// at 6,000 msg/s). Here up to 64 MiB free stay with each heap, and blocks under 32 MiB
    /// (glibc's own ceiling for that threshold) come from the heaps: the message worker spends
    /// a twentieth less CPU per message and the media pool makes thumbnails a tenth faster
    /// (docs/performance.md). Setting the first alone stops glibc raising the second, which
    /// cost the worker a quarter more.
    public static func keepFreedMemory() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
    }
}
