"""Community fire risk atlas: the dashboard, from a source checkout.

``streamlit run app.py`` serves ``static/`` beside this file (the map's files go there). The
installed command is ``firerisk app`` (see ``firerisk/serve.py``); both run
:func:`firerisk.ui.app.main`.
"""

from firerisk.ui.app import main

main()
