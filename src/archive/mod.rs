//! The archive module (`archive_library = 'walrs'`): the C entry points in [`ffi`], what they
//! do in [`callbacks`].

mod callbacks;
mod ffi;
