"""Open a results GeoPackage in real QGIS (headless) and report what QGIS sees, as JSON.

Run by tests/test_qgis.py with Debian's /usr/bin/python3 (python3-qgis belongs to it, not to
the project's virtual environment) and QT_QPA_PLATFORM=offscreen::

    /usr/bin/python3 tests/qgis/open_results.py RESULTS.gpkg OUT.png WIDTH HEIGHT

It loads the ``areas`` layer as a user would (QGIS applies the file's default style from its
``layer_styles`` table), prints the renderer and its legend, and renders the layer to OUT.png.
"""

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def main() -> None:
    path, png, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    layer = QgsVectorLayer(f"{path}|layername=areas", "areas", "ogr")
    out = {"qgis": app.applicationVersion() if hasattr(app, "applicationVersion") else "",
           "valid": layer.isValid(), "features": layer.featureCount()}
    renderer = layer.renderer()
    out["renderer"] = renderer.type() if renderer else None
    if renderer is not None and renderer.type() == "categorizedSymbol":
        out["attribute"] = renderer.classAttribute()
        out["categories"] = [
            {"value": c.value(), "label": c.label(),
             "colour": c.symbol().color().name(), "alpha": c.symbol().color().alpha()}
            for c in renderer.categories()]
    out["legend"] = [item.label() for item in renderer.legendSymbolItems()] if renderer \
        else []
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setOutputSize(QSize(width, height))
    settings.setExtent(layer.extent())
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(png, "PNG")
    out["extent"] = [layer.extent().xMinimum(), layer.extent().yMinimum(),
                     layer.extent().xMaximum(), layer.extent().yMaximum()]
    out["visible_extent"] = [settings.visibleExtent().xMinimum(),
                             settings.visibleExtent().yMinimum(),
                             settings.visibleExtent().xMaximum(),
                             settings.visibleExtent().yMaximum()]
    print(json.dumps(out), flush=True)
    # QGIS 3.22 crashes on exit while Python still holds its objects: drop them first.
    del job, settings, renderer, layer
    app.exitQgis()


if __name__ == "__main__":
    main()
