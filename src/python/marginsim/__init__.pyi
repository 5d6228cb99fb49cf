# Type stubs of the marginsim package (the module's API is marginsim/__init__.py; its docstrings
# say what each call does).
from os import PathLike
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy
import numpy.typing

__version__: str
MODES: Tuple[str, str, str]

_Path = Union[str, PathLike[str]]

class InputError(ValueError):
    file: str
    line: int
    column: int
    key: str
    problem: str
    expected: str

class Scenario:
    @classmethod
    def load(cls, path: _Path, tiers_dir: Optional[_Path] = ...) -> Scenario: ...
    @classmethod
    def from_toml(cls, text: str, name: str = ..., tiers_dir: Optional[_Path] = ...) -> Scenario: ...
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = ..., tiers_dir: Optional[_Path] = ...) -> Scenario: ...
    def set(self, key: str, value: Any) -> Scenario: ...
    def copy(self) -> Scenario: ...
    @property
    def source(self) -> str: ...
    @property
    def overrides(self) -> list[str]: ...
    @property
    def symbols(self) -> list[str]: ...
    @property
    def model(self) -> str: ...
    @property
    def paths(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def horizon_days(self) -> float: ...
    @property
    def warnings(self) -> list[str]: ...

class Result:
    @property
    def report(self) -> dict[str, Any]: ...
    def losses(self, mode: str) -> numpy.typing.NDArray[numpy.float64]: ...
    @property
    def weights(self) -> Optional[numpy.typing.NDArray[numpy.float64]]: ...

class Calibration:
    report: dict[str, Any]
    snippet: str

def run(scenario: Scenario, paths: Optional[int] = ..., seed: Optional[int] = ..., threads: Optional[int] = ...,
        precision: Union[None, float, str] = ...) -> Result: ...
def sweep(scenario: Scenario, parameter: str, values: Iterable[float], paths: Optional[int] = ...,
          seed: Optional[int] = ..., threads: Optional[int] = ...,
          precision: Union[None, float, str] = ...) -> dict[str, Any]: ...
def liq(scenario: Scenario) -> dict[str, Any]: ...
def calibrate(files: Sequence[_Path], symbols: Optional[Sequence[str]] = ..., window: Optional[int] = ...,
              method: str = ..., lambda_: float = ..., model: Optional[str] = ..., as_of: Optional[str] = ...,
              filter: str = ...) -> Calibration: ...
def backtest(scenario: Scenario, start: str, end: str, every: int = ..., window: int = ...,
             models: Optional[Sequence[str]] = ..., paths: int = ..., history: Optional[_Path] = ...,
             uncertainty: bool = ..., threads: int = ...) -> dict[str, Any]: ...
