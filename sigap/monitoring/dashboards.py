"""Grafana dashboards and provisioning, built with grafana-foundation-sdk (0.0.21).

`sigap dashboards` writes deploy/grafana/dashboards/*.json and the provisioning files
deploy/grafana/provisioning/{datasources,dashboards}/sigap.yml.

Four dashboards, all on the Prometheus datasource provisioned with the fixed uid
``sigap-prometheus``:

- ``sigap-city-overview``: compliance per unit, worst units, volume, open past target;
- ``sigap-unit-detail``: one unit (variable ``unit``): response and resolution times,
  within-target ratios per window, open past 50/75/100%, the same by complaint category
  (the registry's taxonomy), transfers, ratings;
- ``sigap-slo``: error ratio against each unit's objective, burn rates, remaining budget;
- ``sigap-pipeline``: worker, consumer lag, throughput, dead letters, watermark, Faust.

Every query sums (or takes the worst value) across workers, since each worker exports only
the partitions it owns. Metric names come from metrics/names.py and sigap/monitoring/rules.py.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

# The SDK warns on import that the v2 dashboard model exists. SIGAP deliberately writes the
# v1 model: it is what Grafana's file provisioning reads and what the vendored schema checks.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import bargauge, stat, table, text, timeseries
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dash
    from grafana_foundation_sdk.builders import prometheus as prom
    from grafana_foundation_sdk.cog import builder as cog_builder
    from grafana_foundation_sdk.cog import variants as cog_variants
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as dash_models
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode

from metrics.names import (
    CATEGORY_WINDOW_SECONDS,
    CATEGORY_WINDOW_WITHIN_TARGET_RATIO,
    COMPLAINTS_CREATED,
    COMPLAINTS_OPEN,
    COMPLAINTS_RESOLVED,
    CONSUMER_LAG,
    ESCALATED,
    EVENTS_PROCESSED,
    EVENTS_REJECTED,
    FIRST_RESPONSE_WALL_SECONDS,
    OPEN_PAST_TARGET,
    OVERDUE,
    OVERDUE_OLDEST,
    RATINGS,
    REOPENED,
    RESOLUTION_WALL_SECONDS,
    RESOLUTION_WORKING_SECONDS,
    SLA,
    TIMERS,
    TRANSFERS,
    VIEWS_FAILED,
    WATERMARK,
    WINDOW_SECONDS,
    WINDOW_WITHIN_TARGET_RATIO,
)
from sigap.core.registry import UNKNOWN_UNIT, Registry
from sigap.monitoring import DEFAULT_API_URL, dump_yaml, generated_header, worklist_url
from sigap.monitoring.rules import (
    BUDGET_REMAINING_RECORD,
    BURN_POLICIES,
    OBJECTIVE_RECORD,
    SLO_PERIOD,
    WORKER_JOB,
    error_ratio_record,
)

__all__ = [
    "DATASOURCE_UID",
    "DEFAULT_DASHBOARDS_PATH",
    "DEFAULT_PROMETHEUS_URL",
    "FAUST_SERIES",
    "build_dashboards",
    "render_dashboard",
    "render_dashboard_provisioning",
    "render_datasource_provisioning",
    "write_grafana",
]

DATASOURCE_UID: Final = "sigap-prometheus"
DEFAULT_PROMETHEUS_URL: Final = "http://127.0.0.1:9090"
# Where Grafana finds the JSON files (mount deploy/grafana/dashboards there).
DEFAULT_DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards/sigap"
# deploy/prometheus/prometheus.yml scrapes every 15s; Grafana needs it for $__rate_interval.
SCRAPE_INTERVAL: Final = "15s"
TIMEZONE: Final = "Asia/Jakarta"
TAG: Final = "sigap"

# Every panel and query reads the dashboard's `datasource` variable, so the dashboards import
# into an existing Grafana with its own Prometheus; it defaults to the provisioned one.
DATASOURCE_VARIABLE: Final = "datasource"
_DS: Final = common.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")


def _datasource_variable() -> dash.DatasourceVariable:
    return (
        dash.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Prometheus")
        .description("The Prometheus that scrapes the SIGAP workers")
        .type("prometheus")
        .current(
            dash_models.VariableOption(selected=True, text=DATASOURCE_UID, value=DATASOURCE_UID)
        )
    )


# Faust's own sensor metrics (streams/app.py: setup_prometheus_sensors, name_prefix "faust";
# faust/sensors/prometheus.py). Latencies are in milliseconds there.
FAUST_MESSAGES_RECEIVED: Final = "faust_messages_received_total"
FAUST_EVENTS_RUNTIME_BUCKET: Final = "faust_events_runtime_ms_bucket"
FAUST_ACTIVE_MESSAGES: Final = "faust_active_messages"
FAUST_REBALANCES: Final = "faust_total_rebalances"
FAUST_REBALANCES_RECOVERING: Final = "faust_total_rebalances_recovering"
FAUST_END_OFFSET: Final = "faust_topic_partition_end_offset"
FAUST_COMMITTED_OFFSET: Final = "faust_topic_partition_offset_commited"  # sic, faust's name
FAUST_SEND_ERRORS: Final = "faust_total_error_messages_sent_total"
FAUST_SERIES: Final = (
    FAUST_MESSAGES_RECEIVED,
    FAUST_EVENTS_RUNTIME_BUCKET,
    FAUST_ACTIVE_MESSAGES,
    FAUST_REBALANCES,
    FAUST_REBALANCES_RECOVERING,
    FAUST_END_OFFSET,
    FAUST_COMMITTED_OFFSET,
    FAUST_SEND_ERRORS,
)

_CREATED: Final = f"{COMPLAINTS_CREATED}_total"
_RESOLVED: Final = f"{COMPLAINTS_RESOLVED}_total"
_SLA_TOTAL: Final = f"{SLA}_total"
_TRANSFERS: Final = f"{TRANSFERS}_total"
_REOPENED: Final = f"{REOPENED}_total"
_RATINGS: Final = f"{RATINGS}_total"
_REJECTED: Final = f"{EVENTS_REJECTED}_total"
_PROCESSED: Final = f"{EVENTS_PROCESSED}_total"
_VIEWS_FAILED: Final = f"{VIEWS_FAILED}_total"
_ESCALATED: Final = f"{ESCALATED}_total"
_UNIT: Final = 'unit="$unit"'

_Target = cog_builder.Builder[cog_variants.Dataquery]

# Within-target colours where no unit is involved (city-wide figures, categories) or no
# per-unit override matches: those of the default 95% objective (see _objective_steps).
_RATIO_STEPS: Final = ((None, "red"), (0.9, "orange"), (0.95, "green"))
_COUNT_STEPS: Final = ((None, "green"), (1.0, "red"))
# Share of an error budget used: relative to the unit's own objective already, so one set
# of steps fits every unit (100%: exactly on the objective; 200%: twice the budget).
_BUDGET_USED_STEPS: Final = ((None, "green"), (1.0, "orange"), (2.0, "red"))


# --------------------------------------------------------------------------------------
# Small builders
# --------------------------------------------------------------------------------------

_Steps = Sequence[tuple[float | None, str]]
_Link = cog_builder.Builder[dash_models.DashboardLink]


def _query(
    expr: str,
    legend: str = "",
    *,
    ref: str = "A",
    instant: bool = False,
    table_format: bool = False,
) -> prom.Dataquery:
    query = (
        prom.Dataquery().expr(expr).ref_id(ref).datasource(_DS).editor_mode(QueryEditorMode.CODE)
    )
    if legend:
        query.legend_format(legend)
    if instant:
        query.instant()
    else:
        query.range()
    if table_format:
        query.format(PromQueryFormat.TABLE)
    return query


def _queries(
    items: Sequence[tuple[str, str]], *, instant: bool = False, table_format: bool = False
) -> list[_Target]:
    return [
        _query(expr, legend, ref=chr(ord("A") + i), instant=instant, table_format=table_format)
        for i, (expr, legend) in enumerate(items)
    ]


def _thresholds(steps: _Steps) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(dash_models.ThresholdsMode.ABSOLUTE)
        .steps([dash_models.Threshold(value=value, color=color) for value, color in steps])
    )


def _threshold_value(steps: _Steps) -> dict[str, Any]:
    """Thresholds as the value of a field override (``id: thresholds``)."""
    return {
        "mode": dash_models.ThresholdsMode.ABSOLUTE.value,
        "steps": [{"value": value, "color": color} for value, color in steps],
    }


def _reduce_last() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


@dataclass(frozen=True)
class _Override:
    """Field config for the fields named ``names`` (Grafana's ``byNames`` matcher: its
    options are an object, the form the vendored schema accepts)."""

    names: tuple[str, ...]
    steps: _Steps | None = None
    cell_options: dict[str, Any] | None = None

    def apply(self, panel: _FieldPanel) -> None:
        properties = []
        if self.steps is not None:
            properties.append(
                dash_models.DynamicConfigValue(
                    id_val="thresholds", value=_threshold_value(self.steps)
                )
            )
        if self.cell_options is not None:
            properties.append(
                dash_models.DynamicConfigValue(id_val="custom.cellOptions", value=self.cell_options)
            )
        panel.with_override(
            dash_models.MatcherConfig(
                id_val="byNames",
                options={"mode": "include", "names": list(self.names), "readOnly": True},
            ),
            properties,
        )


_FieldPanel = timeseries.Panel | stat.Panel | bargauge.Panel | table.Panel
_P = TypeVar("_P", timeseries.Panel, stat.Panel, bargauge.Panel, table.Panel)


def _panel(
    panel: _P,
    title: str,
    description: str,
    targets: Sequence[_Target],
    unit: str,
    *,
    width: int,
    height: int,
    steps: _Steps | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    links: Sequence[_Link] = (),
    data_links: Sequence[_Link] = (),
    overrides: Sequence[_Override] = (),
) -> _P:
    """What every data panel shares: title, description, datasource, queries, unit, size,
    thresholds, range, panel links, data links (per value) and field overrides."""
    panel.title(title).description(description).datasource(_DS).targets(list(targets))
    panel.unit(unit).span(width).height(height)
    if steps is not None:
        panel.thresholds(_thresholds(steps))
    if min_value is not None:
        panel.min(min_value)
    if max_value is not None:
        panel.max(max_value)
    if links:
        panel.links(list(links))
    if data_links:
        panel.data_links(list(data_links))
    for override in overrides:
        override.apply(panel)
    return panel


def _timeseries(
    title: str,
    description: str,
    targets: Sequence[_Target],
    unit: str,
    *,
    width: int = 12,
    height: int = 8,
    threshold_lines: Sequence[float] = (),
    **extra: Any,
) -> timeseries.Panel:
    panel = _panel(
        timeseries.Panel(), title, description, targets, unit, width=width, height=height, **extra
    )
    panel.line_width(1).fill_opacity(10).legend(
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
    )
    if threshold_lines:
        panel.thresholds(
            _thresholds([(None, "transparent"), *((v, "red") for v in threshold_lines)])
        ).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
    return panel


def _stat(
    title: str,
    description: str,
    targets: Sequence[_Target],
    unit: str,
    *,
    steps: _Steps = ((None, "blue"),),
    width: int = 6,
    height: int = 4,
    mappings: Sequence[dash_models.ValueMapping] = (),
    **extra: Any,
) -> stat.Panel:
    panel = _panel(
        stat.Panel(),
        title,
        description,
        targets,
        unit,
        width=width,
        height=height,
        steps=steps,
        **extra,
    )
    panel.color_mode(common.BigValueColorMode.VALUE).graph_mode(
        common.BigValueGraphMode.NONE
    ).reduce_options(_reduce_last())
    if mappings:
        panel.mappings(list(mappings))
    return panel


def _bargauge(
    title: str,
    description: str,
    targets: Sequence[_Target],
    unit: str,
    *,
    steps: _Steps,
    width: int = 12,
    height: int = 8,
    **extra: Any,
) -> bargauge.Panel:
    panel = _panel(
        bargauge.Panel(),
        title,
        description,
        targets,
        unit,
        width=width,
        height=height,
        steps=steps,
        **extra,
    )
    panel.orientation(common.VizOrientation.HORIZONTAL).display_mode(
        common.BarGaugeDisplayMode.GRADIENT
    ).reduce_options(_reduce_last())
    return panel


def _text(title: str, content: str, *, width: int = 24, height: int = 3) -> text.Panel:
    return text.Panel().title(title).content(content).span(width).height(height)


_Panel = timeseries.Panel | stat.Panel | bargauge.Panel | table.Panel | text.Panel


class _Board:
    """A dashboard under construction: hands out unique panel ids in layout order."""

    def __init__(self, uid: str, title: str, description: str, time_from: str) -> None:
        self.builder = (
            dash.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags([TAG])
            .timezone(TIMEZONE)
            .time(time_from, "now")
            .refresh("1m")
            .readonly()
            .tooltip(dash_models.DashboardCursorSync.CROSSHAIR)
            .link(
                dash.DashboardLink("SIGAP dashboards")
                .type(dash_models.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )
        self.builder.with_variable(_datasource_variable())
        self._next_id = 1

    def _id(self) -> int:
        panel_id = self._next_id
        self._next_id += 1
        return panel_id

    def row(self, title: str) -> None:
        self.builder.with_row(dash.Row(title).id(self._id()))

    def add(self, *panels: _Panel) -> None:
        for panel in panels:
            panel.id(self._id())
            self.builder.with_panel(panel)

    def build(self) -> dash_models.Dashboard:
        return self.builder.build()


def _unit_variable(registry: Registry) -> dash.QueryVariable:
    first = next(iter(registry.units), "")
    return (
        dash.QueryVariable("unit")
        .label("Unit")
        .description("Work unit (OPD) code from the registry")
        .datasource(_DS)
        .query(f"label_values({_CREATED}, unit)")
        .definition(f"label_values({_CREATED}, unit)")
        .refresh(dash_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dash_models.VariableSort.ALPHABETICAL_ASC)
        .current(dash_models.VariableOption(selected=True, text=first, value=first))
    )


# The worker's API, which the worklist links open (a text box: set it when importing).
API_VARIABLE: Final = "sigap_api"


def _api_variable(api_url: str) -> dash.TextBoxVariable:
    return (
        dash.TextBoxVariable(API_VARIABLE)
        .label("SIGAP API")
        .description("Base URL of the worker's read-only API (the overdue worklist links)")
        .default_value(api_url)
        .current(dash_models.VariableOption(selected=True, text=api_url, value=api_url))
    )


def _worklist_link(title: str, unit: str, level: str | None) -> dash.DashboardLink:
    """A panel link to a unit's overdue worklist (``unit`` a code or ``${unit}``)."""
    return (
        dash.DashboardLink(title)
        .type(dash_models.DashboardLinkType.LINK)
        .url(worklist_url(f"${{{API_VARIABLE}}}", unit, level))
        .target_blank(True)
    )


UNIT_DASHBOARD_UID: Final = "sigap-unit-detail"
# Where a value's unit comes from in a data link: the series' unit label (stat, bar gauge)
# or, in a table, the raw `unit` column of the clicked row (not renamed, not value-mapped:
# Grafana would put the mapped text into the URL).
SERIES_UNIT: Final = "${__field.labels.unit}"
ROW_UNIT: Final = "${__data.fields.unit}"


def _unit_dashboard_link(unit: str) -> dash.DashboardLink:
    """A data link to the unit dashboard with its ``unit`` variable set to ``unit``,
    keeping the datasource, the API base URL and the time range."""
    return (
        dash.DashboardLink(f"Unit dashboard: {unit}")
        .type(dash_models.DashboardLinkType.LINK)
        .url(
            f"/d/{UNIT_DASHBOARD_UID}/sigap-unit-detail?var-unit={unit}"
            f"&${{{DATASOURCE_VARIABLE}:queryparam}}&${{{API_VARIABLE}:queryparam}}"
            "&${__url_time_range}"
        )
    )


def _drilldown(unit: str) -> list[_Link]:
    """The data links of a per-unit value: its unit dashboard and its overdue worklist."""
    return [_unit_dashboard_link(unit), _worklist_link(f"Overdue worklist: {unit}", unit, None)]


def _objective_steps(objective: float) -> _Steps:
    """Within-target colours against one unit's own objective: green from the objective,
    amber down to twice the error budget below it (2 x objective - 1), red under that. For
    the default 95% objective that is the old fixed 90/95% band."""
    return ((None, "red"), (round(2 * objective - 1, 9), "orange"), (objective, "green"))


def _objective_overrides(
    registry: Registry, names: Callable[[str], Sequence[str]]
) -> list[_Override]:
    """One override per unit: its fields (``names(code)``, the series' display names) get
    thresholds at that unit's objective from the registry; events of unregistered units
    (unit="unknown") are judged on the default objective, as the rules do."""
    objectives = {code: unit.objective for code, unit in registry.units.items()}
    objectives.setdefault(UNKNOWN_UNIT, registry.default_objective)
    return [
        _Override(names=tuple(names(code)), steps=_objective_steps(objective))
        for code, objective in objectives.items()
    ]


# --------------------------------------------------------------------------------------
# Dashboards
# --------------------------------------------------------------------------------------


def _within_target_by_unit(timer: str, window: str) -> str:
    # The worst worker's ratio: ratios from different partitions cannot be added up.
    return f'min by (unit) ({WINDOW_WITHIN_TARGET_RATIO}{{timer="{timer}", window="{window}"}})'


def city_overview(registry: Registry, api_url: str = DEFAULT_API_URL) -> dash_models.Dashboard:
    board = _Board(
        "sigap-city-overview",
        "SIGAP: city overview",
        "Complaint handling across Surabaya's work units: compliance, worst units, volume.",
        "now-24h",
    )
    past = f'{OPEN_PAST_TARGET}{{threshold="1"}}'
    board.row("Now")
    board.add(
        _stat(
            "Open complaints",
            "Complaints created and not resolved yet, all units.",
            [_query(f"sum({COMPLAINTS_OPEN})", instant=True)],
            "none",
        ),
        *(
            _stat(
                f"Open past {timer} target",
                f"Open complaints already past their {timer} target (each one a miss).",
                [
                    _query(
                        f'sum({OPEN_PAST_TARGET}{{timer="{timer}", threshold="1"}})', instant=True
                    )
                ],
                "none",
                steps=_COUNT_STEPS,
            )
            for timer in TIMERS
        ),
        _stat(
            "Within target in range (response / resolution)",
            "Share of complaints whose clock stopped or expired in the time range and met "
            "their target.",
            _queries(
                [
                    (
                        f'sum(increase({_SLA_TOTAL}{{timer="{timer}", outcome="met"}}'
                        f"[$__range])) / sum(increase({_SLA_TOTAL}"
                        f'{{timer="{timer}"}}[$__range]))',
                        timer,
                    )
                    for timer in TIMERS
                ],
                instant=True,
            ),
            "percentunit",
            steps=_RATIO_STEPS,
        ),
    )
    board.builder.with_variable(_api_variable(api_url))
    board.row("Compliance per unit")
    # A table cell's colour can only depend on its column, not on its row (its unit), so
    # the table colours one column computed against each unit's own objective: the share
    # of the 30-day error budget used (100% = exactly on the objective). Ratios, the unit
    # tiles and the bars below carry per-unit thresholds instead (field overrides).
    columns = [
        (_within_target_by_unit(timer, window), f"{timer.capitalize()} within target ({window})")
        for window in ("24h", SLO_PERIOD)
        for timer in TIMERS
    ]
    columns.append((f"max by (unit) ({OBJECTIVE_RECORD})", "Objective"))
    budget_used = f"Error budget used ({SLO_PERIOD}, worst timer)"
    columns.append(
        (
            f"max by (unit) (\n  (1 - min by (unit, timer) ({WINDOW_WITHIN_TARGET_RATIO}"
            f'{{window="{SLO_PERIOD}"}}))\n  / on (unit, timer) (1 - {OBJECTIVE_RECORD})\n)',
            budget_used,
        )
    )
    compliance = _panel(
        table.Panel(),
        "Compliance per unit",
        "Share of complaints within target over the last 24 hours and 30 days per unit "
        "and timer, the unit's objective from the registry, and how much of its 30-day "
        "error budget the worse timer used (amber from 100%: objective missed; red from "
        "200%). Click a row: the unit's dashboard or its overdue worklist.",
        _queries(columns, instant=True, table_format=True),
        "percentunit",
        width=24,
        height=10,
        data_links=_drilldown(ROW_UNIT),
        overrides=[
            _Override(
                names=(budget_used,),
                steps=_BUDGET_USED_STEPS,
                cell_options={"type": "color-background"},
            )
        ],
    )
    compliance.with_transformation(
        dash_models.DataTransformerConfig(id_val="merge", options={})
    ).with_transformation(
        dash_models.DataTransformerConfig(
            id_val="organize",
            options={
                "excludeByName": {"Time": True},
                "renameByName": {
                    f"Value #{chr(ord('A') + i)}": c[1] for i, c in enumerate(columns)
                },
            },
        )
    )
    board.add(compliance)
    board.add(
        *(
            _stat(
                f"{timer.capitalize()} within target ({SLO_PERIOD}) per unit",
                f"Share of each unit's {timer} timers decided in the last 30 days that met "
                "their target, coloured against that unit's own objective (green from it, "
                "amber within twice its error budget, red below). Click a unit: its "
                "dashboard or its overdue worklist.",
                [_query(_within_target_by_unit(timer, SLO_PERIOD), "{{unit}}", instant=True)],
                "percentunit",
                steps=_RATIO_STEPS,
                width=12,
                height=6,
                data_links=_drilldown(SERIES_UNIT),
                overrides=_objective_overrides(registry, lambda code: (code,)),
            )
            for timer in TIMERS
        )
    )
    board.add(
        _bargauge(
            "Worst units (within target, 30d)",
            "The ten lowest within-target ratios over 30 days, any timer, each coloured "
            "against its unit's own objective.",
            [
                _query(
                    f"bottomk(10, min by (unit, timer) ({WINDOW_WITHIN_TARGET_RATIO}"
                    f'{{window="{SLO_PERIOD}"}}))',
                    "{{unit}} {{timer}}",
                    instant=True,
                )
            ],
            "percentunit",
            steps=_RATIO_STEPS,
            min_value=0,
            max_value=1,
            data_links=_drilldown(SERIES_UNIT),
            overrides=_objective_overrides(
                registry, lambda code: tuple(f"{code} {timer}" for timer in TIMERS)
            ),
        ),
        _bargauge(
            "Open past target by unit",
            "Open complaints past their target, response and resolution together.",
            [_query(f"sort_desc(sum by (unit) ({past}))", "{{unit}}", instant=True)],
            "none",
            steps=_COUNT_STEPS,
            min_value=0,
            data_links=_drilldown(SERIES_UNIT),
        ),
    )
    board.row("Volume")
    board.add(
        _timeseries(
            "Complaints created per hour",
            "New complaints per hour, by responsible unit.",
            [_query(f"sum by (unit) (rate({_CREATED}[$__rate_interval])) * 3600", "{{unit}}")],
            "short",
            width=8,
        ),
        _timeseries(
            "Complaints resolved per hour",
            "Resolutions per hour, by unit.",
            [_query(f"sum by (unit) (rate({_RESOLVED}[$__rate_interval])) * 3600", "{{unit}}")],
            "short",
            width=8,
        ),
        _timeseries(
            "Open past target",
            "Open complaints past their target over time, by unit and timer.",
            [_query(f"sum by (unit, timer) ({past})", "{{unit}} {{timer}}")],
            "none",
            width=8,
        ),
    )
    board.row("Escalations and overdue")
    board.add(
        _bargauge(
            "Escalation share (30d)",
            "Complaints escalated over the unit's head (`escalated` events: kecamatan, dinas, "
            "walikota) per complaint received, over 30 days: the share the mayor judges units "
            "by (recorded as sigap:complaint_escalation_share:ratio30d).",
            [
                _query(
                    f"sum by (unit) (increase({_ESCALATED}[30d]))\n"
                    f"/\nsum by (unit) (increase({_CREATED}[30d]))",
                    "{{unit}}",
                    instant=True,
                )
            ],
            "percentunit",
            steps=((None, "green"), (0.05, "orange"), (0.1, "red")),
            width=8,
            min_value=0,
            data_links=_drilldown(SERIES_UNIT),
        ),
        _bargauge(
            "Overdue now",
            "Open complaints past their deadline (clock running), by unit: the unit "
            "dashboard links to each unit's worklist.",
            [_query(f"sum by (unit) ({OVERDUE})", "{{unit}}", instant=True)],
            "none",
            steps=_COUNT_STEPS,
            width=8,
            min_value=0,
            data_links=_drilldown(SERIES_UNIT),
        ),
        _bargauge(
            "Oldest overdue",
            "How long the oldest overdue complaint of each unit is past its deadline (wall).",
            [_query(f"max by (unit) ({OVERDUE_OLDEST})", "{{unit}}", instant=True)],
            "s",
            steps=((None, "green"), (1.0, "orange"), (86400.0, "red")),
            width=8,
            min_value=0,
            data_links=_drilldown(SERIES_UNIT),
        ),
    )
    board.add(
        _text(
            "About",
            "Targets and objectives come from `deploy/registry.yaml`; alerts and their "
            "runbooks are described in docs/monitoring.md and docs/runbooks.md. Per-unit detail: "
            "dashboard **SIGAP: unit detail**.",
        )
    )
    return board.build()


def _percentile_queries(metric: str, label: str) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{_UNIT}}}[1d])))",
            f"{label} p{int(float(q) * 100)} (24h)",
        )
        for q in ("0.5", "0.9")
    ]


def unit_detail(registry: Registry, api_url: str = DEFAULT_API_URL) -> dash_models.Dashboard:
    board = _Board(
        "sigap-unit-detail",
        "SIGAP: unit detail",
        "One work unit: response and resolution times, within-target ratios, open "
        "complaints near or past their target, transfers and ratings.",
        "now-7d",
    )
    board.builder.with_variable(_unit_variable(registry))
    board.builder.with_variable(_api_variable(api_url))
    board.row("Now")
    board.add(
        _stat(
            "Open",
            "Open complaints of the unit.",
            [_query(f"sum({COMPLAINTS_OPEN}{{{_UNIT}}})", instant=True)],
            "none",
        ),
        _stat(
            "Open past 50% / 75% / 100% of target",
            "Open complaints that used at least half, three quarters or all of their target.",
            [
                _query(
                    f"sum by (timer, threshold) ({OPEN_PAST_TARGET}{{{_UNIT}}})",
                    "{{timer}} ≥ {{threshold}}",
                    instant=True,
                )
            ],
            "none",
            steps=_COUNT_STEPS,
            width=10,
        ),
        _stat(
            "Reopened in range",
            "Complaints reopened after resolution, in the time range.",
            [_query(f"sum(increase({_REOPENED}{{{_UNIT}}}[$__range]))", instant=True)],
            "none",
            width=4,
        ),
        _stat(
            "Objective",
            "Share of complaints that must meet target (registry).",
            [_query(f"max({OBJECTIVE_RECORD}{{{_UNIT}}})", instant=True)],
            "percentunit",
            width=4,
        ),
    )
    board.row("Overdue worklist")
    worklist_links: list[cog_builder.Builder[dash_models.DashboardLink]] = [
        _worklist_link("Worklist: past deadline", "${unit}", "1"),
        _worklist_link("Worklist: past 50% or more", "${unit}", None),
    ]
    board.add(
        _stat(
            "Overdue now",
            "Open complaints past their deadline, per timer (clock running). The panel links "
            "open the unit's worklist, oldest deadline first.",
            [_query(f"sum by (timer) ({OVERDUE}{{{_UNIT}}})", "{{timer}}", instant=True)],
            "none",
            steps=_COUNT_STEPS,
        ).links(worklist_links),
        _stat(
            "Oldest overdue",
            "How long (wall time) the oldest overdue complaint is past its deadline, per timer.",
            [_query(f"max by (timer) ({OVERDUE_OLDEST}{{{_UNIT}}})", "{{timer}}", instant=True)],
            "s",
            steps=((None, "green"), (1.0, "orange"), (86400.0, "red")),
        ).links(worklist_links),
        _timeseries(
            "Overdue by lateness",
            "Open complaints past their deadline, by how late they are (wall time).",
            [_query(f"sum by (late_by) ({OVERDUE}{{{_UNIT}}})", "{{late_by}}")],
            "none",
        ).links(worklist_links),
    )
    board.row("Response and resolution times")
    board.add(
        _timeseries(
            "First response time (histogram)",
            "Percentiles of the time to first response over a rolling 24h, from "
            f"{FIRST_RESPONSE_WALL_SECONDS}.",
            _queries(_percentile_queries(FIRST_RESPONSE_WALL_SECONDS, "response")),
            "s",
        ),
        _timeseries(
            "First response time per window",
            "Percentiles computed by the worker over each window, per clock of the targets "
            "(wall or working seconds, never mixed).",
            [
                _query(
                    "max by (window, clock, percentile) "
                    f'({WINDOW_SECONDS}{{{_UNIT}, timer="response"}})',
                    "p{{percentile}} {{window}} ({{clock}})",
                )
            ],
            "s",
        ),
        _timeseries(
            "Resolution time (histogram)",
            "Percentiles over a rolling 24h of the working time to resolution (what the "
            "target counts) and of the wall-clock time.",
            _queries(
                [
                    *_percentile_queries(RESOLUTION_WORKING_SECONDS, "working"),
                    *_percentile_queries(RESOLUTION_WALL_SECONDS, "wall"),
                ]
            ),
            "s",
        ),
        _timeseries(
            "Resolution time per window",
            "Percentiles computed by the worker over each window, per clock of the targets "
            "(wall or working seconds, never mixed).",
            [
                _query(
                    "max by (window, clock, percentile) "
                    f'({WINDOW_SECONDS}{{{_UNIT}, timer="resolution"}})',
                    "p{{percentile}} {{window}} ({{clock}})",
                )
            ],
            "s",
        ),
    )
    board.row("Within target")
    windows = ("24h", SLO_PERIOD)
    board.add(
        _stat(
            "Within target against the objective",
            "Share of the unit's timers decided over 24 hours and 30 days that met their "
            "target, coloured against this unit's own objective from the registry (green from "
            "it, amber within twice its error budget, red below).",
            [
                _query(
                    f"min by (unit, timer, window) ({WINDOW_WITHIN_TARGET_RATIO}"
                    f'{{{_UNIT}, window=~"{"|".join(windows)}"}})',
                    "{{unit}} {{timer}} {{window}}",
                    instant=True,
                )
            ],
            "percentunit",
            steps=_RATIO_STEPS,
            width=24,
            overrides=_objective_overrides(
                registry,
                lambda code: tuple(f"{code} {t} {w}" for t in TIMERS for w in windows),
            ),
            data_links=_drilldown(SERIES_UNIT),
        ),
        _timeseries(
            "Within target per window",
            "Share of complaints within target per timer and window, and the objective.",
            _queries(
                [
                    (
                        f"min by (timer, window) ({WINDOW_WITHIN_TARGET_RATIO}{{{_UNIT}}})",
                        "{{timer}} {{window}}",
                    ),
                    (f"max({OBJECTIVE_RECORD}{{{_UNIT}}})", "objective"),
                ]
            ),
            "percentunit",
            max_value=1,
        ),
        _timeseries(
            "Open past 50% / 75% / 100% of target",
            "Open complaints per timer that used at least that share of their target.",
            [
                _query(
                    f"sum by (timer, threshold) ({OPEN_PAST_TARGET}{{{_UNIT}}})",
                    "{{timer}} ≥ {{threshold}}",
                )
            ],
            "none",
        ),
    )
    board.row("By category (7d)")
    board.add(
        _bargauge(
            "Error budget used by category",
            "Per complaint category and timer, the share of the unit's error budget its "
            "misses in the last 7 days used: (1 - within target) / (1 - the unit's objective "
            "from the registry). Amber from 100% (the category alone misses the unit's "
            "objective), red from 200%: the categories to look at first.",
            [
                _query(
                    f"(1 - min by (category, timer) ({CATEGORY_WINDOW_WITHIN_TARGET_RATIO}"
                    f'{{{_UNIT}, window="7d"}}))\n'
                    f"/ on (timer) group_left () (1 - max by (timer) ({OBJECTIVE_RECORD}"
                    f"{{{_UNIT}}}))",
                    "{{category}} {{timer}}",
                    instant=True,
                )
            ],
            "percentunit",
            steps=_BUDGET_USED_STEPS,
            min_value=0,
        ),
        _bargauge(
            "Within target by category",
            "Share of the unit's timers decided in the last 7 days that met their target, per "
            "complaint category (the registry's taxonomy; `other`: categories it does not "
            "name) and timer.",
            [
                _query(
                    f"min by (category, timer) ({CATEGORY_WINDOW_WITHIN_TARGET_RATIO}"
                    f'{{{_UNIT}, window="7d"}})',
                    "{{category}} {{timer}}",
                    instant=True,
                )
            ],
            "percentunit",
            steps=_RATIO_STEPS,
            min_value=0,
            max_value=1,
        ),
        _bargauge(
            "Resolution p90 by category",
            "p90 of the working time to resolution of the unit's complaints resolved in the "
            "last 7 days, per category.",
            [
                _query(
                    f"max by (category) ({CATEGORY_WINDOW_SECONDS}{{{_UNIT}, "
                    'timer="resolution", window="7d", clock="working", percentile="90"})',
                    "{{category}}",
                    instant=True,
                )
            ],
            "s",
            steps=((None, "blue"),),
            min_value=0,
        ),
    )
    board.row("Flow")
    board.add(
        _timeseries(
            "Created and resolved per hour",
            "Complaints created and resolved per hour.",
            _queries(
                [
                    (f"sum(rate({_CREATED}{{{_UNIT}}}[$__rate_interval])) * 3600", "created"),
                    (f"sum(rate({_RESOLVED}{{{_UNIT}}}[$__rate_interval])) * 3600", "resolved"),
                ]
            ),
            "short",
            width=8,
        ),
        _timeseries(
            "Transfers away per hour",
            "Complaints transferred from this unit to another, by reason.",
            [
                _query(
                    f"sum by (reason) (rate({_TRANSFERS}{{{_UNIT}}}[$__rate_interval])) * 3600",
                    "{{reason}}",
                )
            ],
            "short",
            width=8,
        ),
        _bargauge(
            "Ratings in range",
            "Citizen ratings of resolved complaints in the time range.",
            [
                _query(
                    f"sum by (rating) (increase({_RATINGS}{{{_UNIT}}}[$__range]))",
                    "{{rating}}",
                    instant=True,
                )
            ],
            "none",
            steps=((None, "blue"),),
            width=8,
            min_value=0,
        ),
    )
    return board.build()


def _burn_rate(window: str, timer: str) -> str:
    selector = f'{_UNIT}, timer="{timer}"'
    return (
        f"{error_ratio_record(window)}{{{selector}}}\n"
        f"/ on (unit, timer)\n"
        f"(1 - {OBJECTIVE_RECORD}{{{selector}}})"
    )


def slo_budget(registry: Registry, api_url: str = DEFAULT_API_URL) -> dash_models.Dashboard:
    board = _Board(
        "sigap-slo",
        "SIGAP: SLOs and error budgets",
        "Per unit and timer: error ratio against the objective, burn rates (the alert "
        "thresholds are dashed), remaining error budget over 30 days.",
        "now-7d",
    )
    board.builder.with_variable(_unit_variable(registry))
    board.builder.with_variable(_api_variable(api_url))
    board.row("All units")
    board.add(
        _bargauge(
            f"Error budget remaining ({SLO_PERIOD})",
            "1 - error ratio / (1 - objective) over 30 days, each unit against its own "
            "objective; below zero the objective is missed. Click a bar: the unit's dashboard "
            "or its overdue worklist.",
            [_query(f"sort({BUDGET_REMAINING_RECORD})", "{{unit}} {{timer}}", instant=True)],
            "percentunit",
            steps=((None, "red"), (0.0, "orange"), (0.25, "green")),
            width=24,
            height=10,
            max_value=1,
            data_links=_drilldown(SERIES_UNIT),
        )
    )
    board.row("Unit $unit")
    sla_unit = f"{_SLA_TOTAL}{{{_UNIT}}}"
    missed_unit = f'{_SLA_TOTAL}{{{_UNIT}, outcome="missed"}}'
    board.add(
        _stat(
            f"Error budget remaining ({SLO_PERIOD})",
            "Share of the 30-day error budget not spent yet, per timer.",
            [_query(f"{BUDGET_REMAINING_RECORD}{{{_UNIT}}}", "{{timer}}", instant=True)],
            "percentunit",
            steps=((None, "red"), (0.0, "orange"), (0.25, "green")),
            width=8,
        ),
        _stat(
            f"Misses still allowed ({SLO_PERIOD})",
            "Complaints that may still miss their target in the last 30 days without "
            "breaking the objective (negative: already broken).",
            [
                _query(
                    f"sum by (unit, timer) (increase({sla_unit}[{SLO_PERIOD}]))\n"
                    f"* on (unit, timer) (1 - {OBJECTIVE_RECORD}{{{_UNIT}}})\n"
                    f"- on (unit, timer) "
                    f"sum by (unit, timer) (increase({missed_unit}[{SLO_PERIOD}]))",
                    "{{timer}}",
                    instant=True,
                )
            ],
            "none",
            steps=((None, "red"), (0.0, "green")),
            width=8,
        ),
        _stat(
            f"Missed targets ({SLO_PERIOD})",
            "Complaints that missed their target in the last 30 days.",
            [
                _query(
                    f"sum by (timer) (increase({missed_unit}[{SLO_PERIOD}]))",
                    "{{timer}}",
                    instant=True,
                )
            ],
            "none",
            width=8,
        ),
    )
    board.add(
        _timeseries(
            "Error ratio against the objective",
            "Share of complaints missing target over 1h and 1d, and the share the "
            "objective allows (1 - objective).",
            _queries(
                [
                    (f"{error_ratio_record('1h')}{{{_UNIT}}}", "{{timer}} missed (1h)"),
                    (f"{error_ratio_record('1d')}{{{_UNIT}}}", "{{timer}} missed (1d)"),
                    (f"1 - {OBJECTIVE_RECORD}{{{_UNIT}}}", "{{timer}} allowed"),
                ]
            ),
            "percentunit",
            width=24,
        ),
    )
    factors = sorted({c.factor for p in BURN_POLICIES for c in p.conditions})
    windows = sorted(
        {w for p in BURN_POLICIES for c in p.conditions for w in (c.long_window, c.short_window)},
        key=_seconds,
    )
    factor_text = ", ".join(
        f"{p.severity}: " + " and ".join(f"{c.factor:g}" for c in p.conditions)
        for p in BURN_POLICIES
    )
    for timer in TIMERS:
        board.add(
            _timeseries(
                f"Burn rate: {timer}",
                "Error ratio / (1 - objective) per window; dashed lines are the alert "
                f"factors ({factor_text}).",
                _queries([(_burn_rate(w, timer), w) for w in windows]),
                "none",
                threshold_lines=factors,
            )
        )
    board.add(
        _timeseries(
            f"Error budget remaining ({SLO_PERIOD}) over time",
            "How the remaining 30-day budget evolves, per timer.",
            [_query(f"{BUDGET_REMAINING_RECORD}{{{_UNIT}}}", "{{timer}}")],
            "percentunit",
            width=24,
            max_value=1,
        )
    )
    return board.build()


def _seconds(duration: str) -> int:
    units = {"m": 60, "h": 3600, "d": 86400}
    return int(duration[:-1]) * units[duration[-1]]


def pipeline_health() -> dash_models.Dashboard:
    board = _Board(
        "sigap-pipeline",
        "SIGAP: pipeline health",
        "Is the worker up and keeping up: consumer lag, throughput, dead letters, event-time "
        "watermark, Faust sensors.",
        "now-6h",
    )
    watermark_delay = f"time() - min({WATERMARK})"
    board.row("Now")
    board.add(
        _stat(
            "Worker up",
            f"Prometheus scrape of job {WORKER_JOB}.",
            [_query(f'up{{job="{WORKER_JOB}"}}', "{{instance}}", instant=True)],
            "none",
            steps=((None, "red"), (1.0, "green")),
            width=5,
            mappings=[
                dash_models.ValueMap(
                    options={
                        "0": dash_models.ValueMappingResult(text="DOWN", color="red", index=0),
                        "1": dash_models.ValueMappingResult(text="UP", color="green", index=1),
                    }
                )
            ],
        ),
        _stat(
            "Watermark delay",
            "Wall clock minus the slowest worker's event-time watermark.",
            [_query(watermark_delay, instant=True)],
            "s",
            steps=((None, "green"), (600.0, "orange"), (3600.0, "red")),
            width=5,
        ),
        _stat(
            "Consumer lag",
            "Messages behind the end of the events topic, all partitions.",
            [_query(f"sum({CONSUMER_LAG})", instant=True)],
            "none",
            steps=((None, "green"), (1000.0, "red")),
            width=5,
        ),
        _stat(
            "Dead letters in range",
            "Events rejected and sent to the dead-letter topic in the time range.",
            [_query(f"sum(increase({_REJECTED}[$__range]))", instant=True)],
            "none",
            steps=_COUNT_STEPS,
            width=5,
        ),
        _stat(
            "Unit views skipped in range",
            "Unit views the unit stage failed on (a bug in the KPI code) in the time range: "
            "their units' live KPIs may be off.",
            [_query(f"sum(increase({_VIEWS_FAILED}[$__range]))", instant=True)],
            "none",
            steps=_COUNT_STEPS,
            width=4,
        ),
    )
    board.row("Throughput and lag")
    board.add(
        _timeseries(
            "Events per second",
            "Events accepted by SIGAP and Kafka messages received by Faust.",
            _queries(
                [
                    (f"sum(rate({_PROCESSED}[$__rate_interval]))", "accepted events"),
                    (f"sum(rate({FAUST_MESSAGES_RECEIVED}[$__rate_interval]))", "messages in"),
                ]
            ),
            "ops",
        ),
        _timeseries(
            "Consumer lag by partition",
            "Messages behind the end of each events-topic partition.",
            [_query(f"sum by (partition) ({CONSUMER_LAG})", "partition {{partition}}")],
            "none",
        ),
        _timeseries(
            "Dead-lettered events",
            "Rejected events by reason, per rate interval.",
            [_query(f"sum by (reason) (increase({_REJECTED}[$__rate_interval]))", "{{reason}}")],
            "none",
        ),
        _timeseries(
            "Watermark delay",
            "Wall clock minus the event-time watermark: how far behind event time runs.",
            [_query(watermark_delay, "delay")],
            "s",
        ),
    )
    board.row("Faust")
    board.add(
        _timeseries(
            "Event processing time (Faust)",
            "Time an agent spends on one event (Faust measures it in milliseconds).",
            _queries(
                [
                    (
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate({FAUST_EVENTS_RUNTIME_BUCKET}[$__rate_interval])))",
                        f"p{int(float(q) * 100)}",
                    )
                    for q in ("0.5", "0.95")
                ]
            ),
            "ms",
            width=8,
        ),
        _timeseries(
            "Uncommitted offsets (Faust)",
            "End offset minus committed offset per topic partition.",
            [
                _query(
                    f"sum by (topic, partition) ({FAUST_END_OFFSET})\n"
                    f"- sum by (topic, partition) ({FAUST_COMMITTED_OFFSET})",
                    "{{topic}}/{{partition}}",
                )
            ],
            "none",
            width=8,
        ),
        _timeseries(
            "Rebalances, in-flight messages, send errors (Faust)",
            "Rebalances in progress or recovering, messages being processed, and failed "
            "sends per second.",
            _queries(
                [
                    (f"sum({FAUST_REBALANCES})", "rebalancing"),
                    (f"sum({FAUST_REBALANCES_RECOVERING})", "recovering"),
                    (f"sum({FAUST_ACTIVE_MESSAGES})", "in flight"),
                    (f"sum(rate({FAUST_SEND_ERRORS}[$__rate_interval]))", "send errors/s"),
                ]
            ),
            "none",
            width=8,
        ),
    )
    return board.build()


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def build_dashboards(
    registry: Registry, api_url: str = DEFAULT_API_URL
) -> dict[str, dict[str, Any]]:
    """Dashboard JSON models by file name; ``api_url`` is the default of the `sigap_api`
    variable (where the worklist links point)."""
    boards = (
        city_overview(registry, api_url),
        unit_detail(registry, api_url),
        slo_budget(registry, api_url),
        pipeline_health(),
    )
    result: dict[str, dict[str, Any]] = {}
    for board in boards:
        model: dict[str, Any] = json.loads(json.dumps(board, cls=JSONEncoder))
        result[f"{model['uid']}.json"] = model
    return result


def render_dashboard(model: dict[str, Any]) -> str:
    """Stable JSON text (sorted keys) so regenerating gives identical files."""
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_datasource_provisioning(prometheus_url: str = DEFAULT_PROMETHEUS_URL) -> str:
    data = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "SIGAP Prometheus",
                "type": "prometheus",
                # Fixed uid: every panel and variable refers to the datasource by it.
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": True,
                "editable": False,
                "jsonData": {"timeInterval": SCRAPE_INTERVAL, "httpMethod": "POST"},
            }
        ],
    }
    return generated_header("sigap dashboards") + dump_yaml(data)


def render_dashboard_provisioning(dashboards_path: str = DEFAULT_DASHBOARDS_PATH) -> str:
    data = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "sigap",
                "orgId": 1,
                "folder": "SIGAP",
                "folderUid": "sigap",
                "type": "file",
                # Dashboards are code: changes made in the UI are not kept.
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": dashboards_path, "foldersFromFilesStructure": False},
            }
        ],
    }
    return generated_header("sigap dashboards") + dump_yaml(data)


def grafana_files(
    registry: Registry,
    prometheus_url: str = DEFAULT_PROMETHEUS_URL,
    dashboards_path: str = DEFAULT_DASHBOARDS_PATH,
    api_url: str = DEFAULT_API_URL,
) -> dict[str, str]:
    """Every generated Grafana file, by path relative to deploy/grafana."""
    files = {
        f"dashboards/{name}": render_dashboard(model)
        for name, model in build_dashboards(registry, api_url).items()
    }
    files["provisioning/datasources/sigap.yml"] = render_datasource_provisioning(prometheus_url)
    files["provisioning/dashboards/sigap.yml"] = render_dashboard_provisioning(dashboards_path)
    return files


def write_grafana(
    registry: Registry,
    out_dir: Path,
    prometheus_url: str = DEFAULT_PROMETHEUS_URL,
    dashboards_path: str = DEFAULT_DASHBOARDS_PATH,
    api_url: str = DEFAULT_API_URL,
) -> list[Path]:
    """Write the Grafana files under ``out_dir``; returns the paths written."""
    written = []
    for relative, content in grafana_files(
        registry, prometheus_url, dashboards_path, api_url
    ).items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
