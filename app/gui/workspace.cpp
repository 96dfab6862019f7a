#include "app/gui/workspace.h"

#include "app/gui/enginebridge.h"
#include "app/io/dataset.h"

#include <QFileInfo>

namespace pellucid {

Workspace::Workspace(EngineBridge *bridge, QObject *parent) : QObject(parent), mBridge(bridge) { }

void Workspace::openModel(const QString &path)
{
    emit modelLoading(path);
    mBridge->loadModel(
        path, mOptions, kMainModel, this,
        [this](std::shared_ptr<const ModelSummary> s) {
            mModel = std::move(s);
            emit modelChanged(mModel);
        },
        [this, path](const QString &message) { emit modelLoadFailed(path, message); });
}

void Workspace::reloadModel()
{
    if (mModel) openModel(QString::fromStdString(mModel->path));
}

void Workspace::setLoadOptions(const LoadOptions &options, bool reload)
{
    mOptions = options;
    if (reload) reloadModel();
}

bool Workspace::isGenerator() const
{
    if (!mModel) return false;
    const Json *role = mModel->metadata.raw.find("role");
    return role && role->isString()
        && (role->asString() == "generator" || role->asString() == "decoder" || role->asString() == "conditional_generator");
}

bool Workspace::isRecommender() const { return mModel && mModel->metadata.task == "recommendation"; }

void Workspace::openCompareModel(const QString &path)
{
    LoadOptions o = mOptions;
    o.role.clear();
    mBridge->loadModel(path, o, kCompareModel, this, [this](std::shared_ptr<const ModelSummary> s) {
        mCompare = std::move(s);
        emit compareModelChanged(mCompare);
    });
}

void Workspace::closeCompareModel()
{
    mCompare.reset();
    emit compareModelChanged(nullptr);
}

void Workspace::setInput(const TensorValue &tensor, InputOrigin origin, const QString &imagePath, const QStringList &tokens, const QString &name)
{
    mInputName = name;
    mInput = tensor;
    mOrigin = origin;
    mImagePath = imagePath;
    mTokens = tokens;
    ++mInputId;
    emit inputChanged(origin);
}

void Workspace::setLayer(const QString &layer, bool force)
{
    if (layer == mLayer && !force) return;
    mLayer = layer;
    emit layerChanged(layer);
}

void Workspace::setDataset(std::shared_ptr<const Dataset> data)
{
    mDataset = std::move(data);
    emit datasetChanged();
}

void Workspace::present(const QString &panel, quint64 inputId, bool final, std::function<void()> show)
{
    if (mPresenter && mPresenter(panel, inputId, final, show)) return;
    show();
}

}   // namespace pellucid
