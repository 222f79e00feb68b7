# Conformance: the view compared with a local directory running the same script (issue 8),
# one test per case and mode (conformance/cases/*.sh, run by conformance/run_case.sh), plus
# fio --verify and stress-ng's file-system stressors in each mode, and inputs appended to while
# they are fetched. Labels: local, conformance. conformance/README.md says how to read a failure.
set(RINGBOX_CONFORMANCE_DIR ${RINGBOX_LOCAL_TESTS_DIR}/conformance)
ringbox_local_test(lost_outputs.eager lost_outputs.sh)
function(ringbox_conformance_test name script)
  add_test(NAME local.conformance.${name}
           COMMAND bash ${RINGBOX_CONFORMANCE_DIR}/${script} ${ARGN})
  set_tests_properties(local.conformance.${name} PROPERTIES
    LABELS "local;conformance"
    ENVIRONMENT "RINGBOX_BIN=${CMAKE_BINARY_DIR}/bin"
    SKIP_RETURN_CODE 77
    TIMEOUT 300)
endfunction()
file(GLOB RINGBOX_CONFORMANCE_CASES CONFIGURE_DEPENDS ${RINGBOX_CONFORMANCE_DIR}/cases/*.sh)
foreach(mode auto remote-io lazy-file eager)
  foreach(case_file ${RINGBOX_CONFORMANCE_CASES})
    get_filename_component(case ${case_file} NAME_WE)
    ringbox_conformance_test(${case}.${mode} run_case.sh ${mode} ${case})
  endforeach()
  ringbox_conformance_test(fio.${mode} fio.sh ${mode})
  ringbox_conformance_test(stress-ng.${mode} stress_ng.sh ${mode})
  # 13 stressors, each bounded (25 s, 60 s for link and symlink); ~20-60 s in all normally.
  set_tests_properties(local.conformance.stress-ng.${mode} PROPERTIES TIMEOUT 420)
endforeach()
foreach(mode auto lazy-file eager)
  ringbox_conformance_test(input_appended.${mode} input_appended.sh ${mode})
endforeach()
ringbox_conformance_test(mmap_coherence.remote-io mmap_coherence.sh remote-io)
