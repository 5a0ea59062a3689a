# The parity test reads its PyTorch fixture with the safetensors reader (src/fault).
target_link_libraries(test_model PRIVATE plait_fault)
