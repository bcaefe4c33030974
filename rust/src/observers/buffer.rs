//! A trajectory buffer: a ring of byte columns, one column per flattened
//! trajectory leaf, written one batch of `B` items at a time.
//!
//! Layout: column `c` holds `B * T * item_bytes[c]` bytes, the C-order
//! storage of an array `[B, T, *leaf_shape]` (`B` envs, `T = max_length`
//! slots per env). One write appends one item per env at the shared slot
//! `cursor`: leaf `c`'s batch `[B, *leaf_shape]` (`B * item_bytes[c]` bytes,
//! env-major) is copied into `column[(b * T + cursor) * item_bytes ..]` for
//! every env `b`.
//!
//! Overflow: every env row is a ring. Once `T` items are stored, each write
//! overwrites the oldest slot (as TF-Agents' `TFUniformReplayBuffer` does),
//! so the ring always holds the last `len <= T` writes per env, oldest at
//! slot `start()`, newest at slot `cursor - 1` (mod `T`).
//!
//! The columns are any byte storage (`Vec<u8>` in tests; numpy arrays at the
//! Python boundary, see `py::buffer`); nothing here depends on PyO3.

use std::fmt;

/// Why a write or a construction was refused. Nothing is written then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BufferError {
    /// `batch_size` or `max_length` is 0.
    EmptyDimension { name: &'static str },
    /// A column's storage does not have `B * T * item_bytes` bytes.
    ColumnBytes {
        column: usize,
        expected: usize,
        got: usize,
    },
    /// `write` got a different number of leaves than there are columns.
    LeafCount { expected: usize, got: usize },
    /// A leaf's batch does not have `B * item_bytes` bytes.
    LeafBytes {
        column: usize,
        expected: usize,
        got: usize,
    },
}

impl fmt::Display for BufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferError::EmptyDimension { name } => {
                write!(f, "{name} must be at least 1")
            }
            BufferError::ColumnBytes {
                column,
                expected,
                got,
            } => write!(
                f,
                "storage of leaf {column} has {got} bytes; expected {expected} \
                 (batch_size * max_length * item bytes)"
            ),
            BufferError::LeafCount { expected, got } => {
                write!(
                    f,
                    "expected {expected} leaves (one per spec leaf), got {got}"
                )
            }
            BufferError::LeafBytes {
                column,
                expected,
                got,
            } => write!(
                f,
                "leaf {column} has {got} bytes; expected {expected} (batch_size * item bytes)"
            ),
        }
    }
}

impl std::error::Error for BufferError {}

/// A ring of `B` rows of `T` slots over byte columns `C`.
#[derive(Debug)]
pub struct TrajectoryRing<C> {
    columns: Vec<C>,
    item_bytes: Vec<usize>,
    batch_size: usize,
    max_length: usize,
    /// The slot the next write goes to, in `0..T`.
    cursor: usize,
    /// Items stored per env, in `0..=T`.
    len: usize,
    /// Writes since construction or the last `clear`: the id of the next
    /// item (ids count writes, as TF-Agents' `last_id + 1` does).
    writes: u64,
}

impl<C: AsMut<[u8]>> TrajectoryRing<C> {
    /// A ring over `columns`, column `c` holding items of `item_bytes[c]`
    /// bytes; each column must hold `batch_size * max_length * item_bytes[c]`
    /// bytes.
    pub fn new(
        mut columns: Vec<C>,
        item_bytes: Vec<usize>,
        batch_size: usize,
        max_length: usize,
    ) -> Result<Self, BufferError> {
        if batch_size == 0 {
            return Err(BufferError::EmptyDimension { name: "batch_size" });
        }
        if max_length == 0 {
            return Err(BufferError::EmptyDimension { name: "max_length" });
        }
        if columns.len() != item_bytes.len() {
            return Err(BufferError::LeafCount {
                expected: item_bytes.len(),
                got: columns.len(),
            });
        }
        for (column, (storage, &bytes)) in columns.iter_mut().zip(&item_bytes).enumerate() {
            let expected = batch_size * max_length * bytes;
            let got = storage.as_mut().len();
            if got != expected {
                return Err(BufferError::ColumnBytes {
                    column,
                    expected,
                    got,
                });
            }
        }
        Ok(TrajectoryRing {
            columns,
            item_bytes,
            batch_size,
            max_length,
            cursor: 0,
            len: 0,
            writes: 0,
        })
    }

    /// Checks a batch of leaves without writing it.
    pub fn check(&self, batch_leaves: &[&[u8]]) -> Result<(), BufferError> {
        if batch_leaves.len() != self.columns.len() {
            return Err(BufferError::LeafCount {
                expected: self.columns.len(),
                got: batch_leaves.len(),
            });
        }
        for (column, (leaf, &bytes)) in batch_leaves.iter().zip(&self.item_bytes).enumerate() {
            self.check_leaf_bytes(column, leaf, bytes)?;
        }
        Ok(())
    }

    /// Checks that leaf `column`'s batch holds `batch_size` items of `bytes`.
    fn check_leaf_bytes(
        &self,
        column: usize,
        leaf: &[u8],
        bytes: usize,
    ) -> Result<(), BufferError> {
        let expected = self.batch_size * bytes;
        if leaf.len() != expected {
            return Err(BufferError::LeafBytes {
                column,
                expected,
                got: leaf.len(),
            });
        }
        Ok(())
    }

    /// Appends one item per env: `batch_leaves[c]` is leaf `c`'s batch
    /// `[B, *leaf_shape]` in C order. All leaves are checked before anything
    /// is written. Returns the slot written.
    pub fn write(&mut self, batch_leaves: &[&[u8]]) -> Result<usize, BufferError> {
        self.check(batch_leaves)?;
        for (column, leaf) in batch_leaves.iter().enumerate() {
            self.write_leaf(column, leaf)?;
        }
        Ok(self.advance())
    }

    /// Copies leaf `column`'s batch into the slot at the cursor, without
    /// advancing it: a caller that checked every leaf first writes them one
    /// by one, then calls `advance`. Until then the slot's other columns
    /// (and, once full, the oldest item) hold old data.
    pub fn write_leaf(&mut self, column: usize, leaf: &[u8]) -> Result<(), BufferError> {
        let columns = self.columns.len();
        let bytes = *self.item_bytes.get(column).ok_or(BufferError::LeafCount {
            expected: columns,
            got: column + 1,
        })?;
        self.check_leaf_bytes(column, leaf, bytes)?;
        if bytes == 0 {
            return Ok(());
        }
        let (slot, max_length) = (self.cursor, self.max_length);
        let storage = self.columns[column].as_mut();
        for (env, item) in leaf.chunks_exact(bytes).enumerate() {
            let at = (env * max_length + slot) * bytes;
            storage[at..at + bytes].copy_from_slice(item);
        }
        Ok(())
    }

    /// Commits the slot at the cursor (after `write_leaf` for every column)
    /// and moves the cursor on; returns the slot committed.
    pub fn advance(&mut self) -> usize {
        let slot = self.cursor;
        self.cursor = (slot + 1) % self.max_length;
        self.len = (self.len + 1).min(self.max_length);
        self.writes += 1;
        slot
    }
}

impl<C> TrajectoryRing<C> {
    /// Puts the ring's position back (a copy's storage holds the items):
    /// the next write goes to `cursor`, `len` items are stored per env and
    /// `writes` were made.
    ///
    /// # Errors
    /// A message naming the value when the position cannot be this ring's.
    pub fn set_position(&mut self, cursor: usize, len: usize, writes: u64) -> Result<(), String> {
        if cursor >= self.max_length {
            return Err(format!(
                "cursor={cursor} must be below max_length={}",
                self.max_length
            ));
        }
        if len > self.max_length {
            return Err(format!(
                "len={len} must be at most max_length={}",
                self.max_length
            ));
        }
        if writes < len as u64 {
            return Err(format!("writes={writes} must be at least len={len}"));
        }
        if len < self.max_length && cursor != len {
            return Err(format!(
                "cursor={cursor} must equal len={len} until the ring is full"
            ));
        }
        self.cursor = cursor;
        self.len = len;
        self.writes = writes;
        Ok(())
    }

    /// Forgets the contents (the bytes are left as they are; they are no
    /// longer part of the buffer).
    pub fn clear(&mut self) {
        self.cursor = 0;
        self.len = 0;
        self.writes = 0;
    }

    /// Items stored per env (`<= max_length`).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every slot holds an item: the next write overwrites the oldest.
    pub fn is_full(&self) -> bool {
        self.len == self.max_length
    }

    /// The slot the next write goes to.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The slot of the oldest stored item.
    pub fn start(&self) -> usize {
        (self.cursor + self.max_length - self.len) % self.max_length
    }

    /// The slot of the `i`-th oldest stored item (`i < len`).
    pub fn slot(&self, i: usize) -> usize {
        (self.start() + i) % self.max_length
    }

    /// Writes since construction or the last `clear`.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Bytes of one item of each column.
    pub fn item_bytes(&self) -> &[usize] {
        &self.item_bytes
    }

    pub fn columns(&self) -> &[C] {
        &self.columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two columns: a u8 per item and a 2-byte item; B = 2, T = 3.
    fn ring() -> TrajectoryRing<Vec<u8>> {
        TrajectoryRing::new(vec![vec![0; 6], vec![0; 12]], vec![1, 2], 2, 3).unwrap()
    }

    /// Column `c`'s items per env, oldest first.
    fn items(ring: &TrajectoryRing<Vec<u8>>, c: usize) -> Vec<Vec<Vec<u8>>> {
        let bytes = ring.item_bytes()[c];
        (0..ring.batch_size())
            .map(|env| {
                (0..ring.len())
                    .map(|i| {
                        let at = (env * ring.max_length() + ring.slot(i)) * bytes;
                        ring.columns()[c][at..at + bytes].to_vec()
                    })
                    .collect()
            })
            .collect()
    }

    fn write(ring: &mut TrajectoryRing<Vec<u8>>, k: u8) -> usize {
        ring.write(&[&[k, k + 100], &[k, 1, k + 100, 2]]).unwrap()
    }

    #[test]
    fn writes_each_env_row_at_the_cursor() {
        let mut r = ring();
        assert!(r.is_empty());
        assert_eq!(write(&mut r, 1), 0);
        assert_eq!(write(&mut r, 2), 1);
        assert_eq!((r.len(), r.cursor(), r.start(), r.writes()), (2, 2, 0, 2));
        assert_eq!(r.columns()[0], vec![1, 2, 0, 101, 102, 0]);
        assert_eq!(
            items(&r, 0),
            vec![vec![vec![1], vec![2]], vec![vec![101], vec![102]]]
        );
        assert_eq!(
            items(&r, 1),
            vec![
                vec![vec![1, 1], vec![2, 1]],
                vec![vec![101, 2], vec![102, 2]]
            ]
        );
    }

    #[test]
    fn wraps_around_overwriting_the_oldest() {
        let mut r = ring();
        for k in 1..=5 {
            write(&mut r, k);
        }
        assert!(r.is_full());
        assert_eq!((r.len(), r.cursor(), r.start(), r.writes()), (3, 2, 2, 5));
        // Slots hold 4, 5, 3: the oldest (3) at the cursor.
        assert_eq!(r.columns()[0], vec![4, 5, 3, 104, 105, 103]);
        assert_eq!(
            items(&r, 0),
            vec![
                vec![vec![3], vec![4], vec![5]],
                vec![vec![103], vec![104], vec![105]]
            ]
        );
        write(&mut r, 6);
        assert_eq!((r.cursor(), r.start()), (0, 0));
        assert_eq!(items(&r, 0)[0], vec![vec![4], vec![5], vec![6]]);
    }

    #[test]
    fn clear_forgets_the_items() {
        let mut r = ring();
        write(&mut r, 1);
        write(&mut r, 2);
        r.clear();
        assert_eq!((r.len(), r.cursor(), r.writes()), (0, 0, 0));
        assert_eq!(write(&mut r, 7), 0);
        assert_eq!(items(&r, 0), vec![vec![vec![7]], vec![vec![107]]]);
    }

    #[test]
    fn refuses_bad_batches_without_writing() {
        let mut r = ring();
        write(&mut r, 1);
        assert_eq!(
            r.write(&[&[1, 2]]),
            Err(BufferError::LeafCount {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            r.write(&[&[1, 2], &[1, 2, 3]]),
            Err(BufferError::LeafBytes {
                column: 1,
                expected: 4,
                got: 3
            })
        );
        assert_eq!((r.len(), r.cursor(), r.writes()), (1, 1, 1));
        assert_eq!(r.columns()[1], vec![1, 1, 0, 0, 0, 0, 101, 2, 0, 0, 0, 0]);
    }

    #[test]
    fn checks_its_storage() {
        let err = TrajectoryRing::new(vec![vec![0u8; 5]], vec![1], 2, 3).unwrap_err();
        assert_eq!(
            err,
            BufferError::ColumnBytes {
                column: 0,
                expected: 6,
                got: 5
            }
        );
        assert!(err.to_string().contains("expected 6"));
        let err = TrajectoryRing::new(Vec::<Vec<u8>>::new(), vec![], 2, 0).unwrap_err();
        assert_eq!(err, BufferError::EmptyDimension { name: "max_length" });
        let err = TrajectoryRing::new(Vec::<Vec<u8>>::new(), vec![], 0, 1).unwrap_err();
        assert_eq!(err, BufferError::EmptyDimension { name: "batch_size" });
    }

    #[test]
    fn zero_sized_items_and_one_slot() {
        let mut r = TrajectoryRing::new(vec![vec![], vec![0u8; 2]], vec![0, 1], 2, 1).unwrap();
        r.write(&[&[], &[1, 2]]).unwrap();
        r.write(&[&[], &[3, 4]]).unwrap();
        assert_eq!((r.len(), r.cursor(), r.start(), r.writes()), (1, 0, 0, 2));
        assert_eq!(r.columns()[1], vec![3, 4]);
    }
}
