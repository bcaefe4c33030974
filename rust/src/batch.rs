//! Batch buffers: stacking per-environment rows into one `[B, ...]` buffer.
//!
//! A [`RowStacker`] writes the bytes of row `i` (one sub-environment's array
//! of a fixed shape and dtype) into a contiguous batch buffer and checks that
//! every row was written exactly once. The PyO3 layer points it at the data of
//! a freshly allocated numpy array, so the stacked result is handed to Python
//! without a further copy.

use std::fmt;

/// Why a row could not be stacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StackError {
    /// The row index is not below the number of rows.
    RowOutOfRange { row: usize, rows: usize },
    /// The source has the wrong number of bytes.
    RowSize {
        row: usize,
        expected: usize,
        got: usize,
    },
    /// `finish` found rows never written.
    Missing { rows: Vec<usize> },
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::RowOutOfRange { row, rows } => {
                write!(f, "row {row} out of range for {rows} rows")
            }
            StackError::RowSize { row, expected, got } => {
                write!(f, "row {row} has {got} bytes, expected {expected}")
            }
            StackError::Missing { rows } => write!(f, "rows {rows:?} were never written"),
        }
    }
}

impl std::error::Error for StackError {}

/// Copies `src` into row `row` of `dst`, a buffer of `row_bytes`-byte rows.
pub fn write_row(
    dst: &mut [u8],
    row: usize,
    row_bytes: usize,
    src: &[u8],
) -> Result<(), StackError> {
    let rows = dst.len().checked_div(row_bytes).unwrap_or(0);
    if src.len() != row_bytes {
        return Err(StackError::RowSize {
            row,
            expected: row_bytes,
            got: src.len(),
        });
    }
    if row_bytes == 0 {
        return Ok(());
    }
    if row >= rows {
        return Err(StackError::RowOutOfRange { row, rows });
    }
    dst[row * row_bytes..(row + 1) * row_bytes].copy_from_slice(src);
    Ok(())
}

/// Stacks `rows` rows of `row_bytes` bytes each into `dst`.
#[derive(Debug)]
pub struct RowStacker<'a> {
    dst: &'a mut [u8],
    row_bytes: usize,
    written: Vec<bool>,
}

impl<'a> RowStacker<'a> {
    /// A stacker over `dst`, which must hold `rows * row_bytes` bytes.
    ///
    /// # Panics
    /// If `dst.len() != rows * row_bytes`.
    pub fn new(dst: &'a mut [u8], rows: usize, row_bytes: usize) -> Self {
        assert_eq!(dst.len(), rows * row_bytes, "batch buffer size");
        RowStacker {
            dst,
            row_bytes,
            written: vec![false; rows],
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.written.len()
    }

    /// Copies `src` into row `row`.
    pub fn write(&mut self, row: usize, src: &[u8]) -> Result<(), StackError> {
        let rows = self.rows();
        if row >= rows {
            return Err(StackError::RowOutOfRange { row, rows });
        }
        if src.len() != self.row_bytes {
            return Err(StackError::RowSize {
                row,
                expected: self.row_bytes,
                got: src.len(),
            });
        }
        write_row(self.dst, row, self.row_bytes, src)?;
        self.written[row] = true;
        Ok(())
    }

    /// Checks that every row was written.
    pub fn finish(self) -> Result<(), StackError> {
        let missing: Vec<usize> = self
            .written
            .iter()
            .enumerate()
            .filter(|(_, w)| !**w)
            .map(|(i, _)| i)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(StackError::Missing { rows: missing })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_rows_in_place() {
        let mut buf = vec![0u8; 6];
        let mut s = RowStacker::new(&mut buf, 3, 2);
        s.write(2, &[5, 6]).unwrap();
        s.write(0, &[1, 2]).unwrap();
        s.write(1, &[3, 4]).unwrap();
        s.finish().unwrap();
        assert_eq!(buf, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn errors() {
        let mut buf = vec![0u8; 4];
        let mut s = RowStacker::new(&mut buf, 2, 2);
        assert_eq!(
            s.write(2, &[0, 0]),
            Err(StackError::RowOutOfRange { row: 2, rows: 2 })
        );
        assert_eq!(
            s.write(0, &[0]),
            Err(StackError::RowSize {
                row: 0,
                expected: 2,
                got: 1
            })
        );
        s.write(1, &[1, 1]).unwrap();
        assert_eq!(s.finish(), Err(StackError::Missing { rows: vec![0] }));
    }

    #[test]
    fn zero_sized_rows() {
        let mut buf: Vec<u8> = vec![];
        let mut s = RowStacker::new(&mut buf, 2, 0);
        s.write(0, &[]).unwrap();
        s.write(1, &[]).unwrap();
        s.finish().unwrap();
    }
}
