//! All-or-nothing edits: a journal of the edits since [`RatchetTree::begin_journal`], newest
//! last, that [`RatchetTree::rollback`] undoes and [`RatchetTree::commit_journal`] keeps.
//!
//! A group applies a commit's proposals and path under the journal and keeps the result only
//! when every check has passed. The cost is one saved node per written node and nothing per
//! untouched node, where a clone of the tree would be O(n). A staged commit leaves the tree
//! as it was until it is merged ([`RatchetTree::rollback_with_redo`], [`RatchetTree::redo`]);
//! [`RatchetTree::all_or_nothing`] gives one call (an UpdatePath merge) the same guarantee,
//! inside an open journal or not.

use super::node::StoredNode;
use super::RatchetTree;
use crate::error::ApiMisuse;
use crate::error::Error;
use crate::tree::math::NodeIndex;

impl RatchetTree {
    /// Start recording edits so that [`RatchetTree::rollback`] can undo them. A group applies
    /// a commit's proposals and path under a journal and either keeps the result
    /// ([`RatchetTree::commit_journal`]) or restores the tree exactly. The cost is one saved
    /// node per written node, nothing per untouched node (no whole-tree clone).
    pub fn begin_journal(&mut self) -> Result<(), Error> {
        if self.journal.is_some() {
            return Err(Error::ApiMisuse(ApiMisuse::InvalidArgument("a tree journal is already open")));
        }
        self.journal = Some(Vec::new());
        Ok(())
    }

    /// Keep every edit since [`RatchetTree::begin_journal`].
    pub fn commit_journal(&mut self) {
        self.journal = None;
    }

    /// True while a journal is open.
    pub fn journal_open(&self) -> bool {
        self.journal.is_some()
    }

    /// Undo every edit since [`RatchetTree::begin_journal`] and close the journal. Tree
    /// hashes of the restored nodes are recomputed on demand.
    pub fn rollback(&mut self) {
        self.undo(false);
    }

    /// Undo every edit since [`RatchetTree::begin_journal`], as [`RatchetTree::rollback`]
    /// does, and return what was undone so that [`RatchetTree::redo`] can put it back: a
    /// staged commit keeps the tree as it was until the application merges the commit. The
    /// record holds a copy of each edited node's new value: O(edited nodes).
    pub fn rollback_with_redo(&mut self) -> TreeRedo {
        TreeRedo(self.undo(true))
    }

    /// Run `edit` on the tree all or nothing: if it fails, the edits it made are undone and
    /// the tree is as it was before the call. Inside an open journal only this call's edits
    /// are undone, and the journal stays open with the earlier ones (a group merges an
    /// UpdatePath this way, under the journal of the whole commit); with none open, one is
    /// opened for the call and closed after it. `edit` must not open or close the journal.
    pub(crate) fn all_or_nothing<T, E>(
        &mut self,
        edit: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let outer = self.journal.as_ref().map(Vec::len);
        if outer.is_none() {
            self.journal = Some(Vec::new());
        }
        let result = edit(self);
        match (&result, outer) {
            (Ok(_), None) => self.commit_journal(),
            (Ok(_), Some(_)) => {}
            (Err(_), None) => self.rollback(),
            (Err(_), Some(mark)) => {
                // Closed while the newer edits are undone, so that undoing records nothing.
                if let Some(mut journal) = self.journal.take() {
                    let newer = journal.split_off(mark.min(journal.len()));
                    self.undo_entries(newer, false);
                    self.journal = Some(journal);
                }
            }
        }
        result
    }

    /// Undo the open journal's edits, newest first, and close it; with `record`, return each
    /// undone edit's new value in the original order (a copy of each edited node, which a
    /// plain rollback does not pay for).
    fn undo(&mut self, record: bool) -> Vec<JournalEntry> {
        match self.journal.take() {
            Some(entries) => self.undo_entries(entries, record),
            None => Vec::new(),
        }
    }

    /// Undo `entries`, newest first, with no journal open (see [`RatchetTree::undo`]).
    fn undo_entries(&mut self, entries: Vec<JournalEntry>, record: bool) -> Vec<JournalEntry> {
        let mut redo = Vec::with_capacity(if record { entries.len() } else { 0 });
        for entry in entries.into_iter().rev() {
            match entry {
                JournalEntry::Node(x, old) => {
                    if record {
                        redo.push(JournalEntry::Node(x, self.nodes[x.0 as usize].clone()));
                    }
                    self.write(x, old);
                }
                JournalEntry::UnmergedInsert(x, leaf) => {
                    // Removing a leaf from a list makes its encoding shorter: it cannot fail.
                    let _ = self.set_unmerged(x, leaf, false);
                    self.touch(x);
                    if record {
                        redo.push(JournalEntry::UnmergedInsert(x, leaf));
                    }
                }
                JournalEntry::Width(n) => {
                    if record {
                        redo.push(JournalEntry::Width(self.n_leaves));
                    }
                    self.resize(n);
                    let root = self.root();
                    self.touch(root);
                }
            }
        }
        self.first_blank_hint = 0;
        redo.reverse();
        redo
    }

    /// Re-apply the edits a [`RatchetTree::rollback_with_redo`] undid, in their order, on the
    /// tree it left (the caller guarantees nothing changed the tree in between).
    pub fn redo(&mut self, redo: TreeRedo) {
        for entry in redo.0 {
            match entry {
                JournalEntry::Node(x, new) => self.write(x, new),
                JournalEntry::UnmergedInsert(x, leaf) => {
                    // The list held the leaf when the edit was first made, encoded: it encodes
                    // again.
                    let _ = self.set_unmerged(x, leaf, true);
                    self.touch(x);
                }
                JournalEntry::Width(n) => {
                    self.resize(n);
                    let root = self.root();
                    self.touch(root);
                }
            }
        }
        self.first_blank_hint = 0;
    }

    /// Add `entry` to the open journal, if any (every recorded edit goes through here).
    pub(super) fn record(&mut self, entry: JournalEntry) {
        if let Some(j) = self.journal.as_mut() {
            j.push(entry);
        }
    }
}

/// Edits undone by [`RatchetTree::rollback_with_redo`], to be put back with
/// [`RatchetTree::redo`].
#[derive(Debug, Clone, Default)]
pub struct TreeRedo(Vec<JournalEntry>);

/// One recorded edit (see [`RatchetTree::begin_journal`]).
#[derive(Debug, Clone)]
pub(super) enum JournalEntry {
    /// The node at this index was replaced; this was its old value (moved here by
    /// [`RatchetTree::write`]; a stored node is one pointer, so the entry stays small).
    Node(NodeIndex, Option<StoredNode>),
    /// This leaf was inserted into the unmerged leaves of this parent node.
    UnmergedInsert(NodeIndex, u32),
    /// The leaf count was changed; this was the old one.
    Width(u32),
}
