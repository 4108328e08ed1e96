//! safetensors, GGUF, ONNX/SavedModel protobuf and NumPy header readers on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_modelscan::formats::{gguf, numpy, protobuf, safetensors};

fuzz_target!(|data: &[u8]| {
    let _ = safetensors::read(&data);
    let _ = gguf::read(&data);
    let _ = protobuf::onnx(data);
    let _ = protobuf::saved_model(data);
    let _ = numpy::header(data);
});
