# The loopback tests are httplib clients.
target_link_libraries(test_serve PRIVATE PkgConfig::HTTPLIB plait_model)
