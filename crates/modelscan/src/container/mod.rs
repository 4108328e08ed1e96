//! Archives that carry model files: zip (PyTorch, Keras, npz), tar, 7z.

pub mod sevenz;
pub mod tar;
pub mod zip;
