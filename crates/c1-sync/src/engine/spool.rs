//! A temporary file holding the resources whose entitlements or grants still have to be listed,
//! so the later phases can re-read them without keeping every resource in memory.
//!
//! Record layout (little-endian): `u32` type index, `u8` flags, `u32` length, then the resource's
//! protobuf encoding. The file is anonymous (`tempfile::tempfile`) and disappears when dropped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};

use c1_model::pb;

use crate::error::SyncError;

/// Flag: list this resource's entitlements.
pub(crate) const NEEDS_ENTITLEMENTS: u8 = 1;
/// Flag: list this resource's grants.
pub(crate) const NEEDS_GRANTS: u8 = 2;

fn spool_error(source: impl Into<crate::error::BoxError>) -> SyncError {
    SyncError::Spool {
        source: source.into(),
    }
}

/// The writing side.
pub(crate) struct SpoolWriter {
    file: BufWriter<File>,
    records: u64,
}

impl SpoolWriter {
    pub(crate) fn new() -> Result<Self, SyncError> {
        Ok(Self {
            file: BufWriter::new(tempfile::tempfile().map_err(spool_error)?),
            records: 0,
        })
    }

    pub(crate) fn push(
        &mut self,
        type_index: usize,
        flags: u8,
        resource: &pb::Resource,
    ) -> Result<(), SyncError> {
        let bytes = c1_model::encode(resource);
        let length =
            u32::try_from(bytes.len()).map_err(|_| spool_error("resource larger than 4 GiB"))?;
        let type_index =
            u32::try_from(type_index).map_err(|_| spool_error("too many resource types"))?;
        self.file
            .write_all(&type_index.to_le_bytes())
            .map_err(spool_error)?;
        self.file.write_all(&[flags]).map_err(spool_error)?;
        self.file
            .write_all(&length.to_le_bytes())
            .map_err(spool_error)?;
        self.file.write_all(&bytes).map_err(spool_error)?;
        self.records += 1;
        Ok(())
    }

    /// Flushes and switches to reading.
    pub(crate) fn finish(self) -> Result<Spool, SyncError> {
        let file = self
            .file
            .into_inner()
            .map_err(|error| spool_error(error.into_error()))?;
        Ok(Spool {
            file,
            records: self.records,
        })
    }
}

/// The reading side.
pub(crate) struct Spool {
    file: File,
    records: u64,
}

impl Spool {
    /// Number of resources spooled.
    pub(crate) fn len(&self) -> u64 {
        self.records
    }

    /// Every record whose flags include `flag`, from the start, as `(type index, resource)`.
    pub(crate) fn records(&mut self, flag: u8) -> Result<SpoolRecords<'_>, SyncError> {
        self.file.rewind().map_err(spool_error)?;
        Ok(SpoolRecords {
            reader: BufReader::new(&self.file),
            flag,
            failed: false,
        })
    }
}

/// Iterator over spooled records.
pub(crate) struct SpoolRecords<'a> {
    reader: BufReader<&'a File>,
    flag: u8,
    failed: bool,
}

impl SpoolRecords<'_> {
    fn read_record(&mut self) -> io::Result<Option<(usize, u8, Vec<u8>)>> {
        if self.reader.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut header = [0_u8; 9];
        self.reader.read_exact(&mut header)?;
        let [t0, t1, t2, t3, flags, l0, l1, l2, l3] = header;
        let type_index = u32::from_le_bytes([t0, t1, t2, t3]) as usize;
        let length = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        let mut bytes = vec![0; length];
        self.reader.read_exact(&mut bytes)?;
        Ok(Some((type_index, flags, bytes)))
    }
}

impl Iterator for SpoolRecords<'_> {
    type Item = Result<(usize, pb::Resource), SyncError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            match self.read_record() {
                Ok(None) => return None,
                Ok(Some((_, flags, _))) if flags & self.flag == 0 => {}
                Ok(Some((type_index, _, bytes))) => {
                    return Some(
                        c1_model::decode::<pb::Resource>(&bytes)
                            .map(|resource| (type_index, resource))
                            .map_err(|error| {
                                self.failed = true;
                                spool_error(error)
                            }),
                    );
                }
                Err(error) => {
                    self.failed = true;
                    return Some(Err(spool_error(error)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(id: &str) -> pb::Resource {
        pb::Resource {
            id: Some(c1_model::resource_id("team", id)),
            display_name: id.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn records_come_back_in_order_filtered_by_flag_and_rereadable() {
        let mut writer = SpoolWriter::new().unwrap();
        writer.push(0, NEEDS_ENTITLEMENTS, &resource("a")).unwrap();
        writer.push(1, NEEDS_GRANTS, &resource("b")).unwrap();
        writer
            .push(2, NEEDS_ENTITLEMENTS | NEEDS_GRANTS, &resource("c"))
            .unwrap();
        let mut spool = writer.finish().unwrap();
        assert_eq!(spool.len(), 3);

        let names = |spool: &mut Spool, flag| -> Vec<(usize, String)> {
            spool
                .records(flag)
                .unwrap()
                .map(|record| record.map(|(i, r)| (i, r.display_name)).unwrap())
                .collect()
        };
        assert_eq!(
            names(&mut spool, NEEDS_ENTITLEMENTS),
            [(0, "a".to_owned()), (2, "c".to_owned())]
        );
        assert_eq!(
            names(&mut spool, NEEDS_GRANTS),
            [(1, "b".to_owned()), (2, "c".to_owned())]
        );
        assert_eq!(names(&mut spool, NEEDS_ENTITLEMENTS).len(), 2);
    }
}
