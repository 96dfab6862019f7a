#include "widgets/model/layertree.h"

#include <QHeaderView>
#include <QLineEdit>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <map>

namespace pellucid {
namespace {

constexpr int kPathRole = Qt::UserRole + 1;

QString shapesText(const LayerInfo &l)
{
    if (l.calls == 0) return QObject::tr("not called");
    if (l.outputShapes.empty()) return l.executedInDryRun ? QObject::tr("(no tensor)") : QObject::tr("?");
    QStringList parts;
    for (const auto &s : l.outputShapes) parts << QString::fromStdString(shapeToString(s));
    return parts.join(", ");
}

QString paramsText(int64_t n)
{
    if (n >= 1000000) return QString::number(n / 1e6, 'f', 2) + "M";
    if (n >= 1000) return QString::number(n / 1e3, 'f', 1) + "k";
    return QString::number(n);
}

}   // namespace

LayerTree::LayerTree(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    mFilter = new QLineEdit(this);
    mFilter->setPlaceholderText(tr("Filter layers (path or op)…"));
    mFilter->setClearButtonEnabled(true);
    mFilter->setObjectName("layerFilter");
    layout->addWidget(mFilter);
    mTree = new QTreeWidget(this);
    mTree->setObjectName("layerTreeView");
    mTree->setHeaderLabels({tr("Layer"), tr("Op"), tr("Output"), tr("Params")});
    mTree->setUniformRowHeights(true);
    mTree->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    layout->addWidget(mTree);
    connect(mFilter, &QLineEdit::textChanged, this, [this] { applyFilter(); });
    connect(mTree, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem *item) {
        if (item && !item->data(0, kPathRole).toString().isEmpty()) emit layerSelected(item->data(0, kPathRole).toString());
    });
}

void LayerTree::clear() { mTree->clear(); }

void LayerTree::setModel(const ModelSummary &summary)
{
    const QSignalBlocker block(mTree);
    mTree->clear();
    std::map<std::string, QTreeWidgetItem *> items;
    for (const LayerInfo &l : summary.layers) {
        QTreeWidgetItem *parent = nullptr;
        const auto dot = l.path.rfind('.');
        if (dot != std::string::npos) {
            const auto it = items.find(l.path.substr(0, dot));
            if (it != items.end()) parent = it->second;
        }
        const QString name = QString::fromStdString(dot == std::string::npos ? l.path : l.path.substr(dot + 1));
        auto *item = parent ? new QTreeWidgetItem(parent) : new QTreeWidgetItem(mTree);
        item->setText(0, name);
        item->setText(1, QString::fromStdString(l.op));
        item->setText(2, shapesText(l));
        item->setText(3, paramsText(l.parameters));
        item->setToolTip(0,
                         QString::fromStdString(l.path) + (l.calls > 1 ? tr("  (called %1 times; the last call is shown)").arg(l.calls) : QString()));
        item->setData(0, kPathRole, l.calls > 0 ? QString::fromStdString(l.path) : QString());
        if (l.calls == 0) {
            for (int c = 0; c < 4; ++c) item->setForeground(c, palette().color(QPalette::Disabled, QPalette::Text));
        }
        items[l.path] = item;
    }
    mTree->expandToDepth(0);
    for (int c = 1; c < 4; ++c) mTree->resizeColumnToContents(c);
    applyFilter();
}

void LayerTree::selectLayer(const QString &path)
{
    QTreeWidgetItemIterator it(mTree);
    while (*it) {
        if ((*it)->data(0, kPathRole).toString() == path) {
            mTree->setCurrentItem(*it);
            mTree->scrollToItem(*it);
            return;
        }
        ++it;
    }
}

QString LayerTree::selectedLayer() const { return mTree->currentItem() ? mTree->currentItem()->data(0, kPathRole).toString() : QString(); }

void LayerTree::setFilter(const QString &text) { mFilter->setText(text); }

void LayerTree::applyFilter()
{
    const QString f = mFilter->text().trimmed();
    // Post-order: an item is visible if it matches or any child is visible.
    std::function<bool(QTreeWidgetItem *)> visit = [&](QTreeWidgetItem *item) {
        bool any = false;
        for (int i = 0; i < item->childCount(); ++i) any |= visit(item->child(i));
        const QString path = item->data(0, kPathRole).toString();
        const bool match = f.isEmpty() || path.contains(f, Qt::CaseInsensitive) || item->text(0).contains(f, Qt::CaseInsensitive)
            || item->text(1).contains(f, Qt::CaseInsensitive);
        item->setHidden(!(match || any));
        if (!f.isEmpty() && any) item->setExpanded(true);
        return match || any;
    };
    for (int i = 0; i < mTree->topLevelItemCount(); ++i) visit(mTree->topLevelItem(i));
}

int LayerTree::visibleLayerCount() const
{
    int n = 0;
    QTreeWidgetItemIterator it(mTree);
    while (*it) {
        if (!(*it)->isHidden()) ++n;
        ++it;
    }
    return n;
}

}   // namespace pellucid
