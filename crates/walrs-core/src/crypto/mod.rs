//! Encryption of object bodies, one module per scheme; the seal stage ([`crate::body::Seal`])
//! calls them, after compression on the way out and before decompression on the way in.

pub mod openpgp;
