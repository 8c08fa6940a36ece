//! The c1z v1 envelope: `C1ZF\0` followed by one zstd frame holding a SQLite database file
//! (c1z-format.md §1.1), and recognition of the v3 (Pebble) magic.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::StoreError;

/// Magic of a c1z v1 file.
pub(crate) const MAGIC_V1: &[u8; 5] = b"C1ZF\0";
/// Magic prefix of a c1z v3 (Pebble) file (`C1Z3\0`); four bytes are enough to recognise it.
const MAGIC_V3_PREFIX: &[u8; 4] = b"C1Z3";

/// Default ceiling on the decompressed database size: 4 GiB.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// zstd level for writing. Level 1 compresses SQLite pages of protobuf rows about twice as fast
/// as the library default (3) for a file only slightly larger.
const ZSTD_LEVEL: i32 = 1;

/// zstd worker threads for writing: the frame is compressed in jobs on this many threads while
/// the calling thread reads the database file. The output is still one ordinary zstd frame. One
/// more worker than the two cores the benchmark machine has keeps both busy while the reading
/// thread waits for a free job (110 000 users: 262 -> 248 ms, medians of six runs); a fixed count
/// bounds the memory the workers' buffers take on larger machines.
const ZSTD_WORKERS: u32 = 3;

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Zero-length file.
    Empty,
    /// `C1ZF\0`.
    V1,
    /// `C1Z3`.
    V3,
    /// Anything else.
    Other,
}

/// Reads up to five bytes from the start of `file` and classifies them.
fn sniff(file: &mut File) -> io::Result<Kind> {
    let mut head = [0u8; 5];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = &head[..filled];
    Ok(if head.is_empty() {
        Kind::Empty
    } else if head == MAGIC_V1 {
        Kind::V1
    } else if head.starts_with(MAGIC_V3_PREFIX) {
        Kind::V3
    } else {
        Kind::Other
    })
}

/// Opens `path` and classifies it; on `Kind::V1` the returned file is positioned right after the magic.
pub(crate) fn open(path: &Path) -> Result<(File, Kind), StoreError> {
    let mut file = File::open(path).map_err(|e| StoreError::io(path, "open the file", e))?;
    let kind = sniff(&mut file).map_err(|e| StoreError::io(path, "read the file", e))?;
    Ok((file, kind))
}

/// Decompresses the zstd payload of `file` (positioned after the magic) into a new file at `dest`,
/// refusing to write more than `limit` bytes. Returns the decoded size. `path` names the c1z in errors.
pub(crate) fn decode_to(
    path: &Path,
    file: File,
    dest: &Path,
    limit: u64,
) -> Result<u64, StoreError> {
    let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::new(file)).map_err(|e| {
        StoreError::Decompress {
            path: path.to_path_buf(),
            source: e,
        }
    })?;
    // Count what the stream really produces instead of trusting the frame header's content size.
    let mut limited = decoder.take(limit.saturating_add(1));
    let out = File::create(dest)
        .map_err(|e| StoreError::io(path, "create the decompressed database", e))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let written = copy(&mut limited, &mut out).map_err(|e| match e {
        CopyError::Read(source) => StoreError::Decompress {
            path: path.to_path_buf(),
            source,
        },
        CopyError::Write(source) => StoreError::io(path, "write the decompressed database", source),
    })?;
    if written > limit {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    out.flush()
        .map_err(|e| StoreError::io(path, "write the decompressed database", e))?;
    Ok(written)
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// `io::copy` that tells read errors (the decoder) from write errors (the disk).
fn copy(reader: &mut impl Read, writer: &mut impl Write) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        writer.write_all(chunk).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

/// Writes `C1ZF\0` + one zstd frame of the file at `db` (with content size and checksum) into
/// `out`, then fsyncs it, running `while_syncing` on another thread meanwhile (the database file
/// is no longer read by then). Returns the number of bytes written.
pub(crate) fn encode_into(
    db: &Path,
    out: File,
    while_syncing: impl FnOnce() + Send,
) -> io::Result<u64> {
    let input = File::open(db)?;
    let len = input.metadata()?.len();
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    writer.write_all(MAGIC_V1)?;
    let mut encoder = zstd::stream::write::Encoder::new(writer, ZSTD_LEVEL)?;
    encoder.multithread(ZSTD_WORKERS)?;
    encoder.include_checksum(true)?;
    encoder.include_contentsize(true)?;
    encoder.set_pledged_src_size(Some(len))?;
    io::copy(&mut BufReader::with_capacity(1 << 20, input), &mut encoder)?;
    let writer = encoder.finish()?;
    let file = writer
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    let synced = std::thread::scope(|scope| {
        scope.spawn(while_syncing);
        file.sync_all()
    });
    synced?;
    Ok(file.metadata()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn sniffs_each_kind() {
        let dir = tempfile::tempdir().unwrap();
        for (bytes, kind) in [
            (&b""[..], Kind::Empty),
            (b"C1ZF\0rest", Kind::V1),
            (b"C1Z3\0\0\0\0\x01", Kind::V3),
            (b"C1ZF", Kind::Other),
            (b"SQLite format 3\0", Kind::Other),
        ] {
            let p = write(dir.path(), "f", bytes);
            assert_eq!(open(&p).unwrap().1, kind, "{bytes:?}");
        }
    }

    #[test]
    fn encode_then_decode_round_trips_and_respects_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let payload: Vec<u8> = (0..100_000u32).flat_map(u32::to_le_bytes).collect();
        let db = write(dir.path(), "db", &payload);
        let c1z = dir.path().join("out.c1z");
        let ran = std::sync::atomic::AtomicBool::new(false);
        let bytes = encode_into(&db, File::create(&c1z).unwrap(), || {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
        assert!(ran.into_inner(), "the work given to run while syncing ran");
        let raw = std::fs::read(&c1z).unwrap();
        assert_eq!(raw.len() as u64, bytes);
        assert_eq!(&raw[..5], MAGIC_V1);
        assert_eq!(
            &raw[5..9],
            &[0x28, 0xB5, 0x2F, 0xFD],
            "one zstd frame follows the magic"
        );
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&raw[5..]).unwrap(),
            Some(payload.len() as u64),
            "frame header carries the content size"
        );

        let (file, kind) = open(&c1z).unwrap();
        assert_eq!(kind, Kind::V1);
        let dest = dir.path().join("decoded");
        assert_eq!(
            decode_to(&c1z, file, &dest, payload.len() as u64).unwrap(),
            payload.len() as u64
        );
        assert_eq!(std::fs::read(&dest).unwrap(), payload);

        let (file, _) = open(&c1z).unwrap();
        let err =
            decode_to(&c1z, file, &dir.path().join("d2"), payload.len() as u64 - 1).unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("out.c1z"), "{err}");
    }

    #[test]
    fn garbage_after_the_magic_is_a_decompress_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "bad.c1z", b"C1ZF\0this is not zstd at all");
        let (file, _) = open(&p).unwrap();
        let err = decode_to(&p, file, &dir.path().join("d"), 1 << 20).unwrap_err();
        assert!(matches!(err, StoreError::Decompress { .. }), "{err}");
    }
}
