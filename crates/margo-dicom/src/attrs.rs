//! Reading attribute values from a data set, tolerant of padding and of the several ways a
//! value can be encoded (DS strings with trailing precision or exponents, US vs SS, ...).

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// Trimmed, non-empty string value.
pub(crate) fn string(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!t.is_empty()).then(|| t.to_string())
}

/// All values of a multi-valued string attribute, trimmed.
pub(crate) fn strings(obj: &InMemDicomObject, tag: Tag) -> Vec<String> {
    obj.get(tag)
        .and_then(|e| e.to_multi_str().ok())
        .map(|v| {
            v.iter()
                .map(|s| {
                    s.trim_matches(|c: char| c.is_whitespace() || c == '\0')
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// All numeric values (DS, IS, FD, US, ...) as f64; `None` if absent, unreadable or not finite.
pub(crate) fn floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let v = obj.get(tag)?.to_multi_float64().ok()?;
    (!v.is_empty() && v.iter().all(|x| x.is_finite())).then_some(v)
}

pub(crate) fn float(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    floats(obj, tag).map(|v| v[0])
}

pub(crate) fn floats_n<const N: usize>(obj: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    let v = floats(obj, tag)?;
    v.get(..N)?.try_into().ok()
}

pub(crate) fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

/// Item `index` of sequence `tag`.
pub(crate) fn item(obj: &InMemDicomObject, tag: Tag, index: usize) -> Option<&InMemDicomObject> {
    obj.get(tag)?.items()?.get(index)
}

/// Enhanced multi-frame functional groups for one frame: looks in the frame's Per-Frame item,
/// then in the Shared item, for `macro_seq` > `tag`.
pub(crate) struct FunctionalGroups<'a> {
    pub per_frame: Option<&'a InMemDicomObject>,
    pub shared: Option<&'a InMemDicomObject>,
}

impl<'a> FunctionalGroups<'a> {
    pub fn of(obj: &'a InMemDicomObject, frame: usize) -> Self {
        Self {
            per_frame: item(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frame),
            shared: item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, 0),
        }
    }

    /// The macro item (`macro_seq` item 0) holding `tag`, per-frame first.
    pub fn find(&self, macro_seq: Tag, tag: Tag) -> Option<&'a InMemDicomObject> {
        [self.per_frame, self.shared]
            .into_iter()
            .flatten()
            .filter_map(|group| item(group, macro_seq, 0))
            .find(|m| m.get(tag).is_some())
    }
}

pub(crate) use dicom_dictionary_std::tags;

/// Retired ACR-NEMA 2.0 tags that some old files use instead of the patient-based ones.
pub(crate) const RETIRED_IMAGE_POSITION: Tag = Tag(0x0020, 0x0030);
pub(crate) const RETIRED_IMAGE_ORIENTATION: Tag = Tag(0x0020, 0x0035);
