//! The decoder's walk over arrays and objects: serde's SeqAccess and MapAccess on the
//! positioned JSON tree, carrying the JSON path of each element and member.

use super::*;

pub(super) struct SeqDe<'n, 'a, 'p, 'c> {
    /// The arrays that were decoded into this list, oldest first; the newest sets the length.
    pub(super) arrays: Vec<&'n [Node<'a>]>,
    pub(super) i: usize,
    pub(super) path: PathLink<'p>,
    pub(super) ctx: &'c Ctx,
    pub(super) field_of: &'static str,
    pub(super) elem: &'static str,
}

impl<'n, 'a, 'p, 'c> SeqDe<'n, 'a, 'p, 'c> {
    /// The next element's decoder (not generic: one copy for every element type).
    #[inline(never)]
    fn next_node(&mut self) -> Option<NodeDe<'n, 'a, '_, 'c>> {
        let last = self.arrays.last()?;
        if self.i >= last.len() {
            return None;
        }
        let occ = if self.arrays.len() == 1 {
            Occ::One(&last[self.i])
        } else {
            Occ::Many(self.arrays.iter().filter_map(|a| a.get(self.i)).collect())
        };
        let path = PathLink {
            parent: Some(&self.path),
            seg: PathSeg::Idx(self.i),
        };
        self.i += 1;
        Some(NodeDe {
            occ,
            path,
            ctx: self.ctx,
            field_of: self.field_of,
            elem_go: Some(self.elem),
        })
    }
}

impl<'de, 'n, 'a, 'p, 'c> de::SeqAccess<'de> for SeqDe<'n, 'a, 'p, 'c> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.next_node() {
            Some(d) => seed.deserialize(d).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.arrays.last().map(|a| a.len().saturating_sub(self.i))
    }
}

/// The members of the object(s) a struct decodes from.
pub(super) enum Members<'n, 'a> {
    Slice(&'n [Member<'a>]),
    Many(Vec<&'n Member<'a>>),
}

impl<'n, 'a> Members<'n, 'a> {
    pub(super) fn len(&self) -> usize {
        match self {
            Members::Slice(s) => s.len(),
            Members::Many(v) => v.len(),
        }
    }

    pub(super) fn get(&self, i: usize) -> &'n Member<'a> {
        match self {
            Members::Slice(s) => &s[i],
            Members::Many(v) => v[i],
        }
    }
}

pub(super) struct MapDe<'n, 'a, 'p, 'c> {
    pub(super) members: Members<'n, 'a>,
    pub(super) chosen: Vec<(&'static str, usize, Option<Vec<usize>>)>,
    pub(super) i: usize,
    pub(super) path: PathLink<'p>,
    pub(super) ctx: &'c Ctx,
    pub(super) name: &'static str,
}

impl<'n, 'a, 'p, 'c> MapDe<'n, 'a, 'p, 'c> {
    /// The next field value's decoder (not generic: one copy for every field type).
    #[inline(never)]
    fn next_node(&mut self) -> NodeDe<'n, 'a, '_, 'c> {
        let (f, first, more) = &self.chosen[self.i];
        self.i += 1;
        let occ = match more {
            None => Occ::One(&self.members.get(*first).val),
            Some(all) => Occ::Many(all.iter().map(|i| &self.members.get(*i).val).collect()),
        };
        NodeDe {
            occ,
            path: PathLink {
                parent: Some(&self.path),
                seg: PathSeg::Key(f),
            },
            ctx: self.ctx,
            field_of: self.name,
            elem_go: None,
        }
    }
}

impl<'de, 'n, 'a, 'p, 'c> de::MapAccess<'de> for MapDe<'n, 'a, 'p, 'c> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.chosen.get(self.i) {
            None => Ok(None),
            Some((f, _, _)) => {
                let d: de::value::StrDeserializer<'_, DeError> = f.into_deserializer();
                seed.deserialize(d).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        seed.deserialize(self.next_node())
    }
}
