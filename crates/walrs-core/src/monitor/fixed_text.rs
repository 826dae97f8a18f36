//! Text in a fixed number of bytes, for shared memory: cut at a character boundary when it
//! does not fit, so what is read back is always valid UTF-8.

/// Up to `N` bytes of UTF-8 text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FixedText<const N: usize> {
    len: u16,
    bytes: [u8; N],
}

impl<const N: usize> FixedText<N> {
    pub const EMPTY: Self = FixedText { len: 0, bytes: [0; N] };

    /// `text`, cut to the longest prefix of at most `N` bytes that ends on a character.
    pub fn new(text: &str) -> Self {
        let mut end = text.len().min(N).min(u16::MAX as usize);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; N];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        FixedText { len: end as u16, bytes }
    }

    pub fn as_str(&self) -> &str {
        // Only `new` writes the bytes, and it copies a prefix of a &str that ends on a boundary.
        std::str::from_utf8(&self.bytes[..self.len as usize]).expect("FixedText holds UTF-8")
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> std::fmt::Debug for FixedText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_is_kept_whole() {
        assert_eq!(FixedText::<24>::new("000000010000000000000003").as_str(), "000000010000000000000003");
        assert!(FixedText::<8>::EMPTY.is_empty());
        assert_eq!(FixedText::<8>::new("").as_str(), "");
    }

    #[test]
    fn longer_text_is_cut_on_a_character_boundary() {
        assert_eq!(FixedText::<4>::new("abcdef").as_str(), "abcd");
        // "é" is two bytes: cutting after 3 bytes would split it.
        assert_eq!(FixedText::<3>::new("aéé").as_str(), "aé");
        assert_eq!(FixedText::<2>::new("aé").as_str(), "a");
    }
}
