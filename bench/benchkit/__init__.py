"""The benchmark's modules, by concern (bench/run.py is the command):

- `common`: paths, sizes, logging, free ports, waiting;
- `broker`: the Kafka broker, topics and publishing;
- `workloads`: the events and the processes measured (`sigap worker`, the Faust and Quix peers);
- `measure`: /metrics scraping, throughput watching, memory and disk, the machine;
- `context`: the run's state (`Bench`) and how a figure is recorded;
- `phases_offline`, `phases_peers`, `phases_worker`: the phases, in the order run.py calls them;
- `report`: the targets, the JSON report and the printed table.
"""
