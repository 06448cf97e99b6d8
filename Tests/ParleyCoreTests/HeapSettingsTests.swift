import CMalloc
import ParleyCore
import XCTest

final class HeapSettingsTests: XCTestCase {
    /// A 16 MiB block comes from a heap, not from a mapping of its own (glibc's default serves
    /// blocks over 128 KiB so), and freeing it leaves the heap as large as it was: a freed top
    /// under 64 MiB is kept, not handed back.
    func testLargeBlocksComeFromTheHeapsAndStayThere() throws {
        HeapSettings.keepFreedMemory()
        let size = 16 << 20
        let before = mallinfo2()
        let block = try XCTUnwrap(malloc(size))
        // Touched, as a buffer is, so that the pages are really the process's.
        memset(block, 1, size)
        let held = mallinfo2()
        // Compared one way only: other threads of the test process may free mappings or
        // grow their heaps meanwhile, never by this much the other way.
        XCTAssertLessThanOrEqual(held.hblks, before.hblks, "the block was given a mapping of its own")
        free(block)
        XCTAssertGreaterThanOrEqual(mallinfo2().arena, held.arena, "the heaps gave memory back once the block was freed")
    }
}
