"""tfdrive._gin: classes configured by the gin bindings of TF-Agents' same-named class."""

import pytest

gin = pytest.importorskip("gin")

from tfdrive import _gin  # noqa: E402


class Head:
    def __init__(self, units=1, depth=2, name="Head"):
        self.units, self.depth, self.name = units, depth, name


Head.__module__ = "tfdrive.fake_networks.head"


def _stand_in(units=1, depth=2, name="Head"):
    del units, depth, name


@pytest.fixture
def tf_agents_head():
    """A configurable registered under the TF-Agents selector of `Head`."""
    gin.configurable("Head", module="tf_agents.fake_networks.head")(_stand_in)
    yield
    gin.clear_config()


def test_bindings_apply_to_arguments_not_passed(tf_agents_head):
    assert _gin._tf_agents_selector(Head) == "tf_agents.fake_networks.head.Head"
    cls = _gin._follow_bindings(type("Head", (Head,), {}), "tf_agents.fake_networks.head.Head")
    gin.parse_config("Head.units = 7\nHead.depth = 5")
    head = cls(3)
    assert (head.units, head.depth) == (3, 5)
    head = cls(depth=1)
    assert (head.units, head.depth) == (7, 1)
    with gin.config_scope("other"):
        gin.parse_config("other/Head.depth = 9")
        assert cls().depth == 9


def test_without_registration_nothing_changes():
    cls = _gin._follow_bindings(type("Head", (Head,), {}), "tf_agents.not_loaded.Head")
    assert (cls().units, cls().depth) == (1, 2)
    with pytest.raises(TypeError):
        cls(wrong=1)
