/// A growable array stored in fixed-size chunks, so growing never copies what it holds and never holds
/// an old and a new buffer at once: a full table allocates one more chunk. The first chunk starts small
/// and doubles up to the chunk size (a small table stays small); every later chunk is allocated at the
/// chunk size. Removal is from the end only (`removeLast`, `swapRemove`); an emptied trailing chunk is
/// kept as a spare until a second one empties, so a count going back and forth across a chunk boundary
/// does not allocate and free each time, and `shrink` frees the spare too.
public struct ChunkedArray<Element> {
    @usableFromInline var chunks: [[Element]]
    /// log2 of the elements per chunk.
    @usableFromInline let shift: Int
    /// Elements held.
    public var count: Int

    /// Chunks of `1 << chunkShift` elements (16,384 by default: 3 MiB of 192-byte records).
    @inlinable public init(chunkShift: Int = 14) {
        precondition((1...30).contains(chunkShift), "chunk size out of range")
        shift = chunkShift
        chunks = []
        count = 0
    }

    /// Elements per full chunk.
    @inlinable public var chunkSize: Int { 1 << shift }
    /// Whether no element is held (chunks may still be allocated).
    @inlinable public var isEmpty: Bool { count == 0 }
    /// Chunks allocated, a spare included.
    @inlinable public var chunkCount: Int { chunks.count }
    /// Elements the allocated chunks can hold.
    @inlinable public var capacity: Int { chunks.reduce(0) { $0 + $1.capacity } }

    /// Bounds are checked by the chunks: each holds exactly its elements.
    @inlinable public subscript(position: Int) -> Element {
        _read { yield chunks[position >> shift][position & (chunkSize - 1)] }
        _modify { yield &chunks[position >> shift][position & (chunkSize - 1)] }
    }

    /// Adds an element at position `count`; allocates at most one chunk.
    @inlinable public mutating func append(_ element: Element) {
        let chunk = count >> shift
        if chunk == chunks.count {
            chunks.append([])
            chunks[chunk].reserveCapacity(chunk == 0 ? 16 : chunkSize)
        } else if chunks[chunk].count == chunks[chunk].capacity {
            // Only the first chunk grows; the others are allocated at full size.
            chunks[chunk].reserveCapacity(Swift.min(Swift.max(16, chunks[chunk].capacity * 2), chunkSize))
        }
        chunks[chunk].append(element)
        count += 1
    }

    /// Removes and returns the last element; the array must not be empty.
    @discardableResult
    @inlinable public mutating func removeLast() -> Element {
        precondition(count > 0, "removing from an empty array")
        count -= 1
        let element = chunks[count >> shift].removeLast()
        if chunks.count > usedChunks + 1 { chunks.removeLast() }
        return element
    }

    /// Removes the element at `position` and moves the last element into its place.
    @discardableResult
    @inlinable public mutating func swapRemove(at position: Int) -> Element {
        var removed = removeLast()
        if position < count { swap(&removed, &self[position]) }
        return removed
    }

    /// Frees the chunks beyond the last used one, and fits the first chunk to what it holds when it is
    /// the only one and mostly empty.
    @inlinable public mutating func shrink() {
        if chunks.count > usedChunks { chunks.removeLast(chunks.count - usedChunks) }
        if chunks.count == 1 && chunks[0].capacity > 1024 && count < chunks[0].capacity / 4 {
            var fitted: [Element] = []
            fitted.reserveCapacity(count)
            fitted.append(contentsOf: chunks[0])
            chunks[0] = fitted
        }
    }

    /// Every element, in order.
    @inlinable public var elements: [Element] { chunks.flatMap { $0 } }

    @inlinable var usedChunks: Int { (count + chunkSize - 1) >> shift }
}

extension ChunkedArray: Sendable where Element: Sendable {}
