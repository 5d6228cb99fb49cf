# cmake -P run_consumer.cmake: installs the built marginsim into a fresh prefix, then configures,
# builds and runs the consumer project (this folder) against it, as a library user would.
# Variables (-D): BUILD_DIR (marginsim's build tree), WORK_DIR (emptied first), SOURCE_DIR
# (marginsim's source tree), GENERATOR, CXX_COMPILER, CXX_FLAGS (e.g. the sanitizers the
# library was built with), BUILD_TYPE, COMPILER_LAUNCHER (optional), PYTHON and PYTHON_PACKAGES
# (optional: the interpreter the Python module was built for and where the package installs).
foreach(var IN ITEMS BUILD_DIR WORK_DIR SOURCE_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "find_package consumer: ${step} failed (${result}): ${ARGN}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})

run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
# Only the installed prefix: the build tree must not be found instead.
set(configure_args -S ${SOURCE_DIR}/tests/find_package -B ${consumer_build} -G ${GENERATOR}
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
  -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
if(COMPILER_LAUNCHER)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER_LAUNCHER=${COMPILER_LAUNCHER})
endif()
run("configure" ${CMAKE_COMMAND} ${configure_args})
run("build" ${CMAKE_COMMAND} --build ${consumer_build})
run("run" ${consumer_build}/consumer ${SOURCE_DIR}/configs/seed_example.toml)

# PYTHON and PYTHON_PACKAGES (optional, when the Python module was built): the installed package imports from the
# prefix alone and runs the seed book, its default price history the installed one.
if(PYTHON)
  set(ENV{PYTHONPATH} ${prefix}/${PYTHON_PACKAGES})
  run("python import" ${PYTHON} -c "import marginsim as ms, os; \
assert ms.__file__.startswith('${prefix}'), ms.__file__; \
assert ms._bundled_history() == '${prefix}/share/marginsim/binance_daily', ms._bundled_history(); \
r = ms.run(ms.Scenario.load('${SOURCE_DIR}/configs/seed_example.toml'), paths=2000); \
assert r.report['simulation']['paths'] == 2000")
endif()
