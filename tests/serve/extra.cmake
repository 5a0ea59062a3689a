# The loopback tests are httplib clients.
target_link_libraries(test_serve PRIVATE PkgConfig::HTTPLIB plait_model)
# the same listen backlog as plait_serve (one definition of httplib's inline functions)
target_compile_definitions(test_serve PRIVATE CPPHTTPLIB_LISTEN_BACKLOG=1024)
