//! One object of the catalog as SQL and the phase it loads in: the dump's objects (`sql`)
//! and the settings' (`settings`) are both made of these.

use super::model::QName;

/// When an object is created, in dump order. NOTE: a safe fixed order (types before
/// sequences before functions before tables; foreign keys after every table) plus
/// pg_depend for views on views: the reverse of this order is the safe order to drop in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Schema,
    Extension,
    /// User collations: before the types and columns that use them.
    Collation,
    Enum,
    Domain,
    Composite,
    Sequence,
    Function,
    Table,
    SequenceOwner,
    LateFunction,
    Constraint,
    Index,
    IndexAttach,
    ForeignKey,
    View,
    MatviewIndex,
    /// Statistics targets, extended statistics, replica identity: after every index.
    Setting,
    Trigger,
    Rule,
    RowSecurity,
    Policy,
    Comment,
    /// Last: a dump loaded after them would fire them.
    EventTrigger,
}

/// One object as SQL.
#[derive(Debug, Clone)]
pub struct Object {
    pub phase: Phase,
    /// The order within the phase: depth (partitions of partitions, views on views), then name.
    pub depth: u32,
    /// `table`, `index`, `view` ...
    pub kind: &'static str,
    /// How messages name it: `public.users`, `users_pkey on public.users`.
    pub name: String,
    /// The statement(s) that create it, each ending with `;`.
    pub create: String,
    /// The statement that drops it.
    pub drop: String,
    /// The relation it hangs on (a table's constraint, a view's trigger, a comment's object):
    /// dropping or recreating that relation drops it too.
    pub relation: Option<QName>,
}

impl Object {
    /// The key that identifies the object in a diff.
    pub fn key(&self) -> (Phase, &'static str, String) {
        // NOTE: both function phases share one key space, so a function that becomes "late"
        // is a change, not a drop and a create.
        let phase = match self.phase {
            Phase::LateFunction => Phase::Function,
            p => p,
        };
        (phase, self.kind, self.name.clone())
    }
}
