"""The test harness: what the test modules share (import as ``from support.X import …``).

- ``service``: starting the service (:class:`~support.service.ServiceProcess`, and
  :class:`~support.service.Server` on it), free ports, environments, waiting, ASGI calls;
- ``sites``: local HTTP servers (the fixture site and the receiver as processes, small sites
  and a hostile one in process, a slow WebSub subscriber);
- ``commands``: the command line run as a user runs it (captured, or on a terminal) and the
  ``[service]`` table of a deployment in a temporary folder;
- ``examples``: how many examples a property test tries (fewer in the fast lane);
- ``gold``: the fixture site's gold;
- ``records``: builders of articles, configs and dispatchers;
- ``database``: a PostgreSQL database of a test's own;
- ``checks``: checks that need an outside tool (jing), and reporting one that could not run;
- ``feedrules``: the rules a feed validator checks, as data; ``browser``: headless Chromium
  over the DevTools protocol, for the pages.

Test modules import from here (and pytest's fixtures from conftest.py), never from one another
(``tests/test_layers.py`` checks it).
"""
