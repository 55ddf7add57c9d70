//! Writes GGUF files in pure Rust, streaming tensor data so large models never sit in memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::reader::{DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufTensorInfo};
use super::value::{GgmlType, GgufValue};
use crate::LlamaCppError;

/// Writes a GGUF v3 file: metadata and tensor table first, then each tensor's data in order.
///
/// ```
/// use slm_llamacpp::gguf::{GgmlType, GgufHeader, GgufValue, GgufWriter};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.gguf");
/// let mut w = GgufWriter::create(
///     &path,
///     vec![("general.name".into(), GgufValue::from("demo"))],
///     vec![("v".into(), vec![4], GgmlType::F32)],
/// ).unwrap();
/// w.write_data(&[0u8; 16]).unwrap();
/// w.finish().unwrap();
/// let header = GgufHeader::read(&path).unwrap();
/// assert_eq!(header.get_str("general.name"), Some("demo"));
/// assert_eq!(header.tensors[0].dims, vec![4]);
/// ```
#[derive(Debug)]
pub struct GgufWriter {
    out: BufWriter<File>,
    path: std::path::PathBuf,
    tensors: Vec<GgufTensorInfo>,
    sizes: Vec<u64>,
    current: usize,
    written_in_current: u64,
    alignment: u64,
}

impl GgufWriter {
    /// Creates the file and writes its header. `tensors` lists `(name, dims, type)`; their data
    /// must then be passed to [`GgufWriter::write_data`] in the same order.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgmlType, GgufWriter};
    /// let dir = tempfile::tempdir().unwrap();
    /// let bad = GgufWriter::create(&dir.path().join("q.gguf"), vec![], vec![("t".into(), vec![33], GgmlType::Q8_0)]);
    /// assert!(bad.is_err()); // 33 is not a multiple of Q8_0's block of 32
    /// ```
    pub fn create(
        path: &Path,
        metadata: Vec<(String, GgufValue)>,
        tensors: Vec<(String, Vec<u64>, GgmlType)>,
    ) -> Result<Self, LlamaCppError> {
        let alignment = metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.as_u64())
            .unwrap_or(DEFAULT_ALIGNMENT);
        let mut infos = Vec::with_capacity(tensors.len());
        let mut sizes = Vec::with_capacity(tensors.len());
        let mut offset = 0u64;
        for (name, dims, ggml_type) in tensors {
            let info = GgufTensorInfo {
                name,
                dims,
                ggml_type,
                offset,
            };
            let size = info.n_bytes().ok_or_else(|| {
                LlamaCppError::InvalidRequest(format!(
                    "tensor {:?}: {:?} does not fit {}'s block size",
                    info.name, info.dims, ggml_type
                ))
            })?;
            offset += size.div_ceil(alignment) * alignment;
            sizes.push(size);
            infos.push(info);
        }
        let file = File::create(path).map_err(|e| LlamaCppError::io(path, &e))?;
        let mut writer = GgufWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            tensors: infos,
            sizes,
            current: 0,
            written_in_current: 0,
            alignment,
        };
        writer
            .header(&metadata)
            .map_err(|e| LlamaCppError::io(path, &e))?;
        Ok(writer)
    }

    fn header(&mut self, metadata: &[(String, GgufValue)]) -> std::io::Result<()> {
        let mut head = Vec::new();
        head.extend_from_slice(&GGUF_MAGIC);
        head.extend_from_slice(&3u32.to_le_bytes());
        head.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        head.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
        for (key, value) in metadata {
            put_string(&mut head, key);
            head.extend_from_slice(&value.type_id().to_le_bytes());
            put_value(&mut head, value);
        }
        for t in &self.tensors {
            put_string(&mut head, &t.name);
            head.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                head.extend_from_slice(&d.to_le_bytes());
            }
            head.extend_from_slice(&t.ggml_type.0.to_le_bytes());
            head.extend_from_slice(&t.offset.to_le_bytes());
        }
        let padded = (head.len() as u64).div_ceil(self.alignment) * self.alignment;
        head.resize(padded as usize, 0);
        self.out.write_all(&head)
    }

    /// Appends data of the current tensor; a tensor's data may come in several pieces. When a
    /// tensor is complete the writer pads and moves to the next one.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgmlType, GgufWriter};
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut w = GgufWriter::create(&dir.path().join("x.gguf"), vec![], vec![("t".into(), vec![2], GgmlType::F32)]).unwrap();
    /// w.write_data(&[0; 4]).unwrap();
    /// w.write_data(&[0; 4]).unwrap();
    /// assert!(w.write_data(&[0; 1]).is_err()); // no tensor left
    /// w.finish().unwrap();
    /// ```
    pub fn write_data(&mut self, mut data: &[u8]) -> Result<(), LlamaCppError> {
        while !data.is_empty() {
            let Some(&size) = self.sizes.get(self.current) else {
                return Err(LlamaCppError::InvalidRequest(
                    "more tensor data than the tensor table declares".into(),
                ));
            };
            let take = (size - self.written_in_current).min(data.len() as u64) as usize;
            self.out
                .write_all(&data[..take])
                .map_err(|e| LlamaCppError::io(&self.path, &e))?;
            self.written_in_current += take as u64;
            data = &data[take..];
            if self.written_in_current == size {
                let pad = size.div_ceil(self.alignment) * self.alignment - size;
                self.out
                    .write_all(&vec![0u8; pad as usize])
                    .map_err(|e| LlamaCppError::io(&self.path, &e))?;
                self.current += 1;
                self.written_in_current = 0;
            }
        }
        Ok(())
    }

    /// Checks that every tensor got its data and flushes the file.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgmlType, GgufWriter};
    /// let dir = tempfile::tempdir().unwrap();
    /// let w = GgufWriter::create(&dir.path().join("x.gguf"), vec![], vec![("t".into(), vec![2], GgmlType::F32)]).unwrap();
    /// assert!(w.finish().is_err()); // the tensor's data is missing
    /// ```
    pub fn finish(mut self) -> Result<(), LlamaCppError> {
        if self.current != self.tensors.len() {
            return Err(LlamaCppError::InvalidRequest(format!(
                "tensor data missing from {:?} on",
                self.tensors[self.current].name
            )));
        }
        self.out
            .flush()
            .map_err(|e| LlamaCppError::io(&self.path, &e))
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, value: &GgufValue) {
    match value {
        GgufValue::U8(v) => out.push(*v),
        GgufValue::I8(v) => out.push(*v as u8),
        GgufValue::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::Bool(v) => out.push(u8::from(*v)),
        GgufValue::String(s) => put_string(out, s),
        GgufValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::Array {
            element_type,
            items,
        } => {
            out.extend_from_slice(&element_type.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                put_value(out, item);
            }
        }
    }
}
