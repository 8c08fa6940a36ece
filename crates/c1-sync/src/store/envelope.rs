//! The c1z v1 envelope: `C1ZF\0` followed by one zstd frame holding a SQLite database file
//! (c1z-format.md §1.1), and recognition of the v3 (Pebble) magic.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use zstd::stream::raw::{self, CParameter, Operation as _};

use super::{StoreError, threads};

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
/// thread waits for a free job (see `docs/performance.md`); a fixed count
/// bounds the memory the workers' buffers take on larger machines.
const ZSTD_WORKERS: u32 = 3;

/// Bytes of input per zstd job. zstd's own choice at level 1 is 2 MiB; each job in flight holds
/// its input and output, so 1 MiB jobs take about 6 MiB less at the end of a sync, when the
/// process is at its largest (see `docs/performance.md`). The frame is the same ordinary frame.
const ZSTD_JOB_BYTES: u32 = 1024 * 1024;

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
        // `Read` promises `n <= buf.len()`; a reader that breaks it is an error, not a panic.
        debug_assert!(
            n <= buf.len(),
            "read {n} bytes into a {}-byte buffer",
            buf.len()
        );
        let chunk = buf.get(..n).ok_or_else(|| {
            CopyError::Read(io::Error::other(format!(
                "the decoder reported {n} bytes read into a {}-byte buffer",
                buf.len()
            )))
        })?;
        writer.write_all(chunk).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

/// Where [`encode_into`] writes: the output file, which a test can make run out of room.
#[derive(Debug)]
pub(crate) struct Output {
    file: File,
    /// Bytes that may still be written before writes fail like on a full disk; `None`: no limit.
    room: Option<u64>,
}

impl Output {
    pub(crate) fn new(file: File) -> Output {
        Output { file, room: None }
    }

    /// Writes fail with [`io::ErrorKind::StorageFull`] once `bytes` bytes are written.
    pub(crate) fn with_room(self, bytes: u64) -> Output {
        Output {
            room: Some(bytes),
            ..self
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(room) = &mut self.room else {
            return self.file.write(buf);
        };
        if *room == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected by a test)",
            ));
        }
        let fits = usize::try_from(*room).map_or(buf.len(), |room| room.min(buf.len()));
        let written = self.file.write(buf.split_at(fits).0)?;
        *room -= written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes `C1ZF\0` + one zstd frame of the file at `db` (with content size and checksum) into
/// `out`, then fsyncs it, running `while_syncing` on another thread meanwhile (the database file
/// is no longer read by then). Returns the number of bytes written.
///
/// When the OS refuses threads, zstd compresses on the calling thread and `while_syncing` runs
/// there before the fsync: slower, same bytes on disk once decoded.
pub(crate) fn encode_into(
    db: &Path,
    out: Output,
    while_syncing: impl FnOnce() + Send,
) -> io::Result<u64> {
    let input = File::open(db)?;
    let len = input.metadata()?.len();
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    writer.write_all(MAGIC_V1)?;
    let mut encoder = zstd::stream::write::Encoder::with_encoder(writer, compressor(len)?);
    io::copy(&mut BufReader::with_capacity(1 << 20, input), &mut encoder)?;
    let writer = encoder.finish()?;
    let Output { file, .. } = writer
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    let synced = std::thread::scope(|scope| {
        if let Err((work, e)) =
            threads::spawn_scoped(scope, "c1z-cleanup", while_syncing, |work| work())
        {
            tracing::debug!(error = %e, "could not start a thread; removing the scratch database before the fsync");
            work();
        }
        file.sync_all()
    });
    synced?;
    Ok(file.metadata()?.len())
}

/// A zstd compressor for a `len`-byte input at [`ZSTD_LEVEL`], with checksum and content size,
/// on [`ZSTD_WORKERS`] worker threads, or on the calling thread when zstd cannot start them.
///
/// zstd starts its workers when a stream starts, and reports a failure to start them as an
/// allocation error of that first call (it cannot tell the two apart either). So the stream is
/// started here, with no input, which writes nothing; if that fails, the compressor is made again
/// without workers.
fn compressor(len: u64) -> io::Result<raw::Encoder<'static>> {
    let configure = |workers: u32| -> io::Result<raw::Encoder<'static>> {
        let mut encoder = raw::Encoder::new(ZSTD_LEVEL)?;
        encoder.set_parameter(CParameter::NbWorkers(workers))?;
        if workers > 0 {
            encoder.set_parameter(CParameter::JobSize(ZSTD_JOB_BYTES))?;
        }
        encoder.set_parameter(CParameter::ChecksumFlag(true))?;
        encoder.set_parameter(CParameter::ContentSizeFlag(true))?;
        encoder.set_pledged_src_size(Some(len))?;
        Ok(encoder)
    };
    let mut encoder = configure(ZSTD_WORKERS)?;
    let started = match threads::refused() {
        Some(e) => Err(e),
        None => start(&mut encoder),
    };
    match started {
        Ok(()) => Ok(encoder),
        Err(e) => {
            tracing::warn!(error = %e, "zstd could not start its worker threads; compressing on one thread");
            configure(0)
        }
    }
}

/// Starts `encoder`'s stream with no input. Nothing is produced: a frame's first bytes come with
/// its first block (and were any produced, zstd would keep them for the next call, as the output
/// has no room).
fn start(encoder: &mut raw::Encoder<'static>) -> io::Result<()> {
    let mut none = Vec::new();
    let mut output = raw::OutBuffer::around(&mut none);
    encoder.run(&mut raw::InBuffer::around(&[]), &mut output)?;
    Ok(())
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
        let bytes = encode_into(&db, Output::new(File::create(&c1z).unwrap()), || {
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

    /// With every thread refused, zstd compresses on the calling thread and the work meant for
    /// the fsync's time runs there: the same database comes back out.
    #[test]
    fn without_threads_the_file_is_still_written_and_the_side_work_done() {
        let dir = tempfile::tempdir().unwrap();
        // Above zstd's smallest multithreaded job (512 KiB), so workers would be used.
        let payload: Vec<u8> = (0..400_000u32).flat_map(u32::to_le_bytes).collect();
        let db = write(dir.path(), "db", &payload);
        let c1z = dir.path().join("out.c1z");
        let ran = std::sync::atomic::AtomicBool::new(false);
        let (bytes, refused) = threads::refusing(|| {
            encode_into(&db, Output::new(File::create(&c1z).unwrap()), || {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
            })
        });
        assert_eq!(refused, 2, "zstd's workers and the side thread");
        assert!(ran.into_inner());
        let raw = std::fs::read(&c1z).unwrap();
        assert_eq!(raw.len() as u64, bytes.unwrap());
        assert_eq!(&raw[..5], MAGIC_V1);
        assert_eq!(zstd::decode_all(&raw[5..]).unwrap(), payload);

        // The same input with threads: zstd's stream, started early with no input, makes the
        // same content.
        let threaded = dir.path().join("threaded.c1z");
        encode_into(&db, Output::new(File::create(&threaded).unwrap()), || {}).unwrap();
        let raw = std::fs::read(&threaded).unwrap();
        assert_eq!(&raw[..5], MAGIC_V1);
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&raw[5..]).unwrap(),
            Some(payload.len() as u64)
        );
        assert_eq!(zstd::decode_all(&raw[5..]).unwrap(), payload);
    }

    #[test]
    fn an_output_out_of_room_fails_like_a_full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let payload: Vec<u8> = (0..100_000u32).flat_map(u32::to_le_bytes).collect();
        let db = write(dir.path(), "db", &payload);
        for room in [0, 3, 5, 100] {
            let c1z = dir.path().join("out.c1z");
            let out = Output::new(File::create(&c1z).unwrap()).with_room(room);
            let err = encode_into(&db, out, || {}).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{room}: {err}");
            assert_eq!(
                std::fs::metadata(&c1z).unwrap().len(),
                room,
                "what fitted was written"
            );
        }
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
