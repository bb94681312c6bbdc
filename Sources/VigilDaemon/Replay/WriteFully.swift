#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes all of `bytes` to `descriptor`, again after a short write or an interrupted call; returns the
/// `errno` of a failure, nil when everything was written. The one loop behind replay's outputs, snapshot
/// files and `OutputPaths`.
func writeFully(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> Int32? {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += written
    }
    return nil
}
