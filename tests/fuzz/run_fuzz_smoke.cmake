# Runs a libFuzzer binary for SECONDS over a fresh copy of SEEDS in WORK.
# cmake -DFUZZER=... -DSEEDS=... -DWORK=... -DSECONDS=20 -P run_fuzz_smoke.cmake
foreach(var FUZZER SEEDS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzz_smoke.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
file(GLOB seeds "${SEEDS}/*")
if(NOT seeds)
  message(FATAL_ERROR "no seed files in ${SEEDS}")
endif()
file(COPY ${seeds} DESTINATION "${WORK}/corpus")

execute_process(
  COMMAND "${FUZZER}" "${WORK}/corpus"
    -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10
    -artifact_prefix=${WORK}/artifacts/ -print_final_stats=1
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzzer exited with ${rc}; see ${WORK}/artifacts/")
endif()
