"""Streaming models that keep state between invokes (resource variables initialised through
CALL_ONCE): TFLite Micro carries the state over a sequence of invokes, and the generated C gives
the same bytes over >= 100 invokes, and again after a reset."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.tflm]  # the tiers: tests/conftest.py

import stateful_models  # noqa: E402

from tflm_mcunet.tflm import model_op_names, run_tflm_batch, run_tflm_sequence  # noqa: E402

INVOKES = 120


@pytest.fixture(scope="module")
def models():
    """Every test model, built once per module (a few seconds each)."""
    return {
        "conv1d": stateful_models.conv1d_spotter(),
        "depthwise": stateful_models.depthwise_detector(),
        "depthwise_uint8": stateful_models.depthwise_detector("uint8", random_init=True),
        "stacked": stateful_models.stacked_spotter(),  # microWakeWord's shape: a state a layer
    }


def frames(model: bytes, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` random int8 inputs of the model's input shape."""
    from tflm_mcunet.tflm import _parse

    main = _parse(model).subgraphs[0]
    shape = tuple(int(d) for d in main.tensors[main.inputs[0]].shape)
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]


def test_models_have_the_streaming_ops(models):
    ops = model_op_names(models["depthwise_uint8"])
    for kind in ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CONCATENATION",
                 "STRIDED_SLICE", "SPLIT_V", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                 "LOGISTIC", "QUANTIZE"):
        assert kind in ops
    assert "DEQUANTIZE" not in ops  # the state is int8, no float island


def test_tflite_micro_carries_the_state(models):
    for name, model in models.items():
        xs = frames(model, 8)
        carried = run_tflm_sequence(model, xs)
        alone = run_tflm_batch(model, xs)
        assert carried[0][0].tobytes() == alone[0][0].tobytes()
        assert [o[0].tobytes() for o in carried] != [o[0].tobytes() for o in alone], name


def run_host(host, xs) -> list[bytes]:
    return [np.asarray(host.invoke(x)).tobytes() for x in xs]


def tflm_bytes(results) -> list[bytes]:
    return [np.asarray(r[0]).tobytes() for r in results]


#: how the window shifts run: copied as TFLite Micro does, ring buffers (passes/ring.py) as
#: chosen by default, and ring buffers of 3 invokes (their kept bytes move every third invoke)
RINGS = {"copied": False, "rings": True, "rings3": 3}


@pytest.fixture(scope="module")
def hosts(models, tmp_path_factory):
    """Every test model converted and compiled once per way of shifting the windows:
    {(name, rings): (conversion, HostModel)}."""
    from tflm_mcunet import compile_host, convert

    result = {}
    for name, model in models.items():
        for label, rings in RINGS.items():
            out = tmp_path_factory.mktemp(f"{name}-{label}")
            result[name, label] = (convert(model, out / "c", rings=rings),
                                   compile_host(out / "c"))
    return result


@pytest.mark.parametrize("rings", list(RINGS))
@pytest.mark.parametrize("name", ["conv1d", "depthwise", "depthwise_uint8", "stacked"])
def test_bit_exact_over_a_sequence_and_after_reset(models, hosts, name, rings):
    model, (conversion, host) = models[name], hosts[name, rings]
    assert host.has_state
    assert bool(conversion.graph.rings) == (rings != "copied")
    xs, ys = frames(model, INVOKES, seed=1), frames(model, 30, seed=2)
    host.reset()
    assert run_host(host, xs) == tflm_bytes(run_tflm_sequence(model, xs))
    # after reset: as from start-up (a fresh TFLite Micro interpreter)
    host.reset()
    assert run_host(host, ys) == tflm_bytes(run_tflm_sequence(model, ys))


def test_reset_as_tflite_micro_for_zero_initial_state(models, tmp_path):
    """TFLite Micro's reset() fills each variable with its zero point (it does not run the
    CALL_ONCE initialisation again): the same as our reset when the initial state is zeros,
    as Keras streaming models have it."""
    from tflm_mcunet import compile_host, convert

    model = models["depthwise"]
    convert(model, tmp_path / "c")
    host = compile_host(tmp_path / "c")
    xs, ys = frames(model, 40, seed=3), frames(model, 40, seed=4)
    ours = run_host(host, xs)
    host.reset()
    ours += run_host(host, ys)
    assert ours == tflm_bytes(run_tflm_sequence(model, xs + ys, reset_before=[len(xs)]))


def test_first_invoke_starts_from_the_initial_state(models, tmp_path):
    """No reset call needed: the first invoke after start-up initialises the state."""
    from tflm_mcunet import compile_host, convert

    model = models["depthwise_uint8"]  # random initial values: not all zero points
    convert(model, tmp_path / "c")
    host = compile_host(tmp_path / "c")
    xs = frames(model, 10, seed=5)
    assert run_host(host, xs) == tflm_bytes(run_tflm_sequence(model, xs))


def test_state_is_reported_beside_the_arena(hosts):
    conversion, _ = hosts["depthwise", "copied"]
    report, plan = conversion.report, conversion.plan
    state = sum(t.nbytes for t in conversion.graph.state)
    assert report.state_bytes == plan.state_bytes >= state + 4 == (4 * 40 + 2 * 19 * 8) + 4
    assert report.arena_bytes == plan.arena_bytes
    assert report.peak_sram_bytes == plan.arena_bytes + plan.state_bytes
    text = report.to_markdown()
    assert f"state {plan.state_bytes:,} B" in text and f"arena {plan.arena_bytes:,} B" in text
    header = (conversion.out_dir / "model.h").read_text()
    assert f"#define MODEL_STATE_BYTES {plan.state_bytes}u" in header
    assert "void model_reset(void);" in header


@pytest.mark.parametrize("name", ["conv1d", "depthwise"])
def test_ring_buffers_take_less_sram_and_copy_less(hosts, name):
    copied, _ = hosts[name, "copied"]
    ringed, _ = hosts[name, "rings"]
    assert ringed.report.peak_sram_bytes < copied.report.peak_sram_bytes
    kinds = [op.kind for op in ringed.graph.ops]
    assert "READ_VARIABLE" not in kinds and "ASSIGN_VARIABLE" not in kinds
    assert "STRIDED_SLICE" not in kinds  # the window's tail is not copied out
    for ring in ringed.graph.rings:  # the state is the ring's buffer, its window in place
        assert ring.buffer in ringed.graph.state and ring.capacity >= ring.keep + ring.step
    assert "Ring buffer:" in ringed.report.to_markdown()
    three, _ = hosts[name, "rings3"]
    assert all(r.capacity == r.keep + 3 * r.step for r in three.graph.rings)


def test_a_patch_stage_does_not_start_from_a_ring_window(models, tmp_path):
    from tflm_mcunet import ConversionError, convert

    with pytest.raises(ConversionError, match="is a streaming model's state"):
        convert(models["depthwise"], tmp_path / "c", patch={"split": 14, "patches": 2,
                                                             "first": 13})


# --------------------------------------------------------------------------------------------
# errors: what is not a streaming model's initialisation is refused by name
# --------------------------------------------------------------------------------------------

def mutated(model: bytes, change) -> bytes:
    from flatbuffer_models import pack, unpack

    m = unpack(model)
    change(m)
    return pack(m)


def opcode_index(m, name: str) -> int:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    code = getattr(fb.BuiltinOperator, name)
    return next(i for i, c in enumerate(m.operatorCodes)
                if max(c.builtinCode, c.deprecatedBuiltinCode) == code)


def convert_error(model: bytes, tmp_path) -> str:
    from tflm_mcunet import ConversionError, convert

    with pytest.raises(ConversionError) as info:
        convert(model, tmp_path / "c")
    assert not (tmp_path / "c").exists()  # nothing half-written
    return str(info.value)


def test_a_subgraph_not_run_by_call_once_is_refused(models, tmp_path):
    def drop_call_once(m):
        main = m.subgraphs[0]
        main.operators = [op for op in main.operators
                          if op.opcodeIndex != opcode_index(m, "CALL_ONCE")]

    text = convert_error(mutated(models["conv1d"], drop_call_once), tmp_path)
    assert "model has 2 subgraphs; subgraph 1" in text
    assert "not the initialisation of resource variables run by CALL_ONCE" in text


def test_control_flow_is_refused_by_name(models, tmp_path):
    def call_once_becomes_while(m):
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

        code = m.operatorCodes[opcode_index(m, "CALL_ONCE")]
        code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.WHILE

    text = convert_error(mutated(models["conv1d"], call_once_becomes_while), tmp_path)
    assert "operator #0 (WHILE): control flow (IF, WHILE, CALL" in text
    assert "supported only as the initialisation of resource variables run by CALL_ONCE" in text


def test_an_initialisation_that_computes_is_refused(models, tmp_path):
    def init_reads_a_variable(m):
        init = m.subgraphs[1]
        init.operators[1].opcodeIndex = opcode_index(m, "READ_VARIABLE")

    text = convert_error(mutated(models["conv1d"], init_reads_a_variable), tmp_path)
    assert "in initialisation subgraph 1 (run by CALL_ONCE operator #0), operator #1 " \
           "(READ_VARIABLE): only VAR_HANDLE and ASSIGN_VARIABLE of constants" in text


def test_an_initial_value_that_is_not_constant_is_refused(models, tmp_path):
    def init_value_without_data(m):
        init = m.subgraphs[1]
        value = init.tensors[init.operators[1].inputs[1]]
        value.buffer = 0

    text = convert_error(mutated(models["conv1d"], init_value_without_data), tmp_path)
    assert "which is not a constant; only constant initial values are supported" in text


def test_a_variable_without_initial_value_is_refused(models, tmp_path):
    def no_init(m):
        m.subgraphs[1].operators = []

    text = convert_error(mutated(models["conv1d"], no_init), tmp_path)
    assert "(VAR_HANDLE): resource variable 'Variable' is never initialised" in text


def test_float_state_is_refused_with_what_to_do(tmp_path):
    """Without variable quantization the converter keeps the state in float32."""
    import tensorflow as tf

    class Float(tf.Module):
        def __init__(self):
            self.state = tf.Variable(tf.zeros([1, 2, 4]), trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([1, 1, 4], tf.float32)])
        def __call__(self, x):
            window = tf.concat([self.state, x], axis=1)
            self.state.assign(window[:, 1:])
            return tf.nn.relu(window)

    module = Float()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    converter.experimental_enable_resource_variables = True
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([np.ones((1, 1, 4), np.float32) * k]
                                                for k in range(4))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    text = convert_error(converter.convert(), tmp_path)
    assert "(READ_VARIABLE)" in text and "is float32" in text
    assert "_experimental_variable_quantization = True" in text


def test_cli_converts_a_streaming_model(models, tmp_path, capsys):
    from tflm_mcunet.cli import main

    path = tmp_path / "spotter.tflite"
    path.write_bytes(models["conv1d"])
    assert main(["convert", str(path), "-o", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    assert "+ state" in text and "Ring buffer:" in text
    assert main(["convert", str(path), "-o", str(tmp_path / "d"), "--no-rings"]) == 0
    text = capsys.readouterr().out
    assert "+ state 208 B" in text and "Ring buffer:" not in text


@pytest.mark.parametrize("seed", range(8))
def test_random_streaming_graphs(seed, tmp_path):
    """Random window shifts (sizes, STRIDED_SLICE or SPLIT_V, assigned early or last, one or
    two variables, random or zero initial values), copied and as ring buffers (where they lower
    the peak, and everywhere): bit-exact with TFLite Micro over a sequence, and after reset
    with a fresh interpreter; the default never raises the peak SRAM."""
    from tflm_mcunet import compile_host, convert

    model = stateful_models.random_streaming(seed)
    xs, ys = frames(model, 40, seed=seed), frames(model, 12, seed=seed + 100)
    reference = tflm_bytes(run_tflm_sequence(model, xs))
    after_reset = tflm_bytes(run_tflm_sequence(model, ys))
    peaks = {}
    for rings in (False, True, 2):  # copied, rings where they lower the peak, rings forced
        conversion = convert(model, tmp_path / f"c{rings}", rings=rings)
        graph = conversion.graph
        assert len(graph.rings) == {False: 0, 2: len(graph.state)}.get(rings, len(graph.rings))
        peaks[rings] = conversion.report.peak_sram_bytes
        host = compile_host(tmp_path / f"c{rings}")
        assert run_host(host, xs) == reference
        host.reset()
        assert run_host(host, ys) == after_reset
    assert peaks[True] <= peaks[False]


def init_mutant(data, seeds) -> bytes:
    """One change to a streaming model's initialisation: an operator's inputs or outputs, a
    tensor's shape, type or buffer, the opcode of an operator, or CALL_ONCE's subgraph index."""
    from flatbuffer_models import pack
    from hypothesis import strategies as st

    m = seeds.fresh(data.draw(st.sampled_from(seeds.names)))
    init = m.subgraphs[1]
    index = st.integers(-2, 12)
    how = data.draw(st.sampled_from(["io", "shape", "type", "buffer", "opcode", "call_once"]))
    if how == "io":
        op = data.draw(st.sampled_from(init.operators))
        op.inputs = data.draw(st.lists(index, max_size=3))
        op.outputs = data.draw(st.lists(index, max_size=2))
    elif how in ("shape", "type", "buffer"):
        t = data.draw(st.sampled_from(init.tensors))
        if how == "shape":
            t.shape = data.draw(st.lists(st.integers(-1, 6), max_size=5))
        elif how == "type":
            t.type = data.draw(st.integers(0, 17))
        else:
            t.buffer = data.draw(st.integers(0, len(m.buffers) + 1))
    elif how == "opcode":
        op = data.draw(st.sampled_from(init.operators + m.subgraphs[0].operators))
        op.opcodeIndex = data.draw(st.integers(0, len(m.operatorCodes)))
    else:
        call_once = m.subgraphs[0].operators[0]
        call_once.builtinOptions.initSubgraphIndex = data.draw(st.integers(-1, 3))
    return pack(m)


@pytest.mark.parametrize("kind", ["structured", "bytes", "initialisation"])
def test_mutated_streaming_models_give_conversion_errors(kind):
    """Streaming models mutated as tests/test_fuzz.py mutates the others (the main subgraph's
    tensors, operators, opcodes and options; the file's bytes), and in their initialisation:
    a ConversionError or a conversion, never another exception."""
    from fuzz_mutations import Seeds, byte_mutant, structured_mutant
    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import strategies as st

    from tflm_mcunet.converter.errors import ConversionError
    from tflm_mcunet.converter.pipeline import generate

    seeds = Seeds({f"random{k}": stateful_models.random_streaming(k) for k in range(4)})
    mutant = {"structured": structured_mutant, "bytes": byte_mutant,
              "initialisation": init_mutant}[kind]

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        try:
            model = mutant(data, seeds)
        except TypeError:  # fuzz_mutations' m_options put a number in a string field
            assume(False)
        try:
            generate(model, name="fuzz.tflite")
        except ConversionError as e:
            assert str(e).startswith("fuzz.tflite: ") and "\n" not in str(e)

    run()


@pytest.mark.parametrize("rings", [False, True, 3])
def test_sanitized_sequences(models, tmp_path, rings):
    """Built with AddressSanitizer and UndefinedBehaviorSanitizer (tests/sanitize.py: the
    harness invokes the model once per sample, the state carried): clean, and the same bytes
    as TFLite Micro, for the Keras-built and random streaming models."""
    from sanitize import build_sanitized, run_sanitized

    from tflm_mcunet import convert

    cases = {"depthwise_uint8": models["depthwise_uint8"], "conv1d": models["conv1d"]}
    cases |= {f"random{k}": stateful_models.random_streaming(k) for k in (1, 2)}
    for name, model in cases.items():
        conversion = convert(model, tmp_path / name, rings=rings)
        xs = frames(model, 25, seed=7)
        ours = run_sanitized(build_sanitized(tmp_path / name), conversion, [[x] for x in xs])
        assert [o[0].tobytes() for o in ours] == tflm_bytes(run_tflm_sequence(model, xs)), name


@pytest.mark.parametrize("name", ["conv1d", "depthwise", "stacked"])
def test_peak_sram_is_at_most_half_of_tflite_micro(models, hosts, name):
    """State + arena against the smallest arena TFLite Micro runs the model in (its resource
    variables live in that arena too)."""
    from tflm_mcunet.tflm import tflm_arena_report

    conversion, _ = hosts[name, "rings"]
    tflm = tflm_arena_report(models[name])["min_working_arena_bytes"]
    assert conversion.report.peak_sram_bytes <= 0.5 * tflm, (conversion.report.peak_sram_bytes,
                                                              tflm)


@pytest.mark.parametrize("name", ["conv1d", "depthwise"])
def test_other_kernel_paths(models, hosts, tmp_path, name):
    """The DSP kernels (emulated on the host) and the AVX2 ones (where this CPU has AVX2) read
    the state's window in place too: the same bytes over a sequence."""
    import shutil

    from conftest import OTHER_PATHS

    from tflm_mcunet import compile_host

    model, (conversion, _) = models[name], hosts[name, "rings"]
    xs = frames(model, 30, seed=9)
    reference = tflm_bytes(run_tflm_sequence(model, xs))
    for path, cflags in OTHER_PATHS:
        project = tmp_path / path
        shutil.copytree(conversion.out_dir, project,
                        ignore=shutil.ignore_patterns("*.o", "*.so", ".host_cflags"))
        assert run_host(compile_host(project, cflags=cflags), xs) == reference, path


@pytest.mark.parametrize("rings", list(RINGS))
def test_reported_peak_is_what_the_code_declares(hosts, rings):
    """Arena + state (the variables, the ring positions, the first invoke's flag): all the
    writable static data of the compiled project."""
    from conftest import static_data_bytes

    for name in ("conv1d", "depthwise"):
        conversion, _ = hosts[name, rings]
        assert static_data_bytes(conversion.out_dir) == conversion.report.peak_sram_bytes, name
