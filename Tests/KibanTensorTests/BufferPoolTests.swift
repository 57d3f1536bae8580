import Testing

@testable import KibanTensor

/// The pool of freed tensor buffers: size classes that let similar shapes share buffers, and a
/// bound that keeps live and pooled bytes together within twice the peak of live bytes.
@Suite("Buffer pool")
struct BufferPoolTests {
    @Test func sizeClassesCoverTheRequestWithBoundedSlack() {
        for bytes in [1, 4_096, 16_384, 16_385, 20_000, 100_000, 262_143, 262_145, 1_000_000, 3_000_000, 50_000_000] {
            let size = BufferPool.sizeClass(bytes)
            #expect(size >= bytes, "\(bytes) → \(size)")
            if bytes <= BufferPool.minimumPooledBytes {
                #expect(size == bytes)
            } else if bytes > BufferPool.mappedBytes {
                #expect(size.nonzeroBitCount == 1 && size < 2 * bytes, "\(bytes) → \(size): mapped sizes round to a power of two")
            } else {
                #expect(Double(size) <= 1.25 * Double(bytes) + 1, "\(bytes) → \(size): at most a quarter more")
            }
        }
        #expect(BufferPool.sizeClass(1_100_000) == BufferPool.sizeClass(2_000_000), "similar large shapes share a class")
    }

    @Test func storagesOfOneClassReuseTheSameBuffer() {
        let address = { Storage(uninitializedCount: 300_000).pointer }()   // freed on return
        let second = Storage(uninitializedCount: 290_000)
        #expect(BufferPool.sizeClass(300_000 * 4) == BufferPool.sizeClass(290_000 * 4))
        #expect(second.pointer == address, "a freed buffer of the same class serves the next request")
    }
}
