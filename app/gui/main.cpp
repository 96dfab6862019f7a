// Pellucid: the desktop application. `pellucid [MODEL.pt] [--image IMG] [--layer PATH]
// [--screenshot OUT.png [--delay-ms N]]` — without a model it opens the bundled demo.
#include "app/figures/session.h"
#include "app/gui/mainwindow.h"
#ifdef PELLUCID_HAVE_ONNX
#include "engine/onnx/onnxbackend.h"
#endif

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QScreen>
#include <QTimer>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
#ifdef PELLUCID_HAVE_ONNX
    pellucid::registerOnnxBackend();   // .onnx files open through OpenCV DNN
#endif
    QApplication::setOrganizationName("Pellucid");
    QApplication::setApplicationName("Pellucid");
    QApplication::setApplicationVersion(PELLUCID_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription("See inside neural networks.");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("files", "Files to open: a TorchScript model (default: the bundled demo), a session (.json), an image "
                                          "or .npy input (the desktop entry's \"Open with Pellucid\" passes them so)",
                                 "[files...]");
    QCommandLineOption image("image", "Input image or .npy to open.", "file");
    QCommandLineOption layer("layer", "Layer to show (module path).", "path");
    QCommandLineOption shot("screenshot", "Save a screenshot of the window once results are shown, then quit.", "png");
    QCommandLineOption delay("delay-ms", "Extra wait before the screenshot.", "ms", "300");
    parser.addOptions({image, layer, shot, delay});
    parser.process(app);

    const QString res = pellucid::resourcesDir();
    pellucid::MainWindow w;
    w.setSampleFolder(res + "/samples");
    w.show();

    const QString layerPath = parser.value(layer);
    QString imagePath = parser.value(image), modelPath, sessionPath;
    for (const QString &f : parser.positionalArguments()) {
        const QString suffix = QFileInfo(f).suffix().toLower();
        if (suffix == "json")
            sessionPath = f;
        else if (QStringList{"png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp", "npy"}.contains(suffix))
            imagePath = f;
        else
            modelPath = f;
    }
    QObject::connect(&w, &pellucid::MainWindow::modelReady, &w, [&] {
        if (!imagePath.isEmpty()) w.openImage(imagePath);
        if (!layerPath.isEmpty()) w.selectLayer(layerPath);
    });
    if (parser.isSet(shot)) {
        const QString out = parser.value(shot);
        const int wait = parser.value(delay).toInt();
        auto take = [&w, out, wait] {
            QTimer::singleShot(wait, &w, [&w, out] {
                w.grab().save(out);
                QApplication::quit();
            });
        };
        QObject::connect(&w, &pellucid::MainWindow::activationsShown, &w, take, Qt::SingleShotConnection);
        QObject::connect(&w, &pellucid::MainWindow::errorShown, &w, take, Qt::SingleShotConnection);
        QTimer::singleShot(60000, &app, &QApplication::quit);
    }
    if (!sessionPath.isEmpty())
        w.openSession(sessionPath);
    else
        w.openModel(modelPath.isEmpty() ? res + "/models/fashion_mnist_cnn.pt" : modelPath);
    return app.exec();
}
