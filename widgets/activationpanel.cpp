#include "widgets/activationpanel.h"

#include "widgets/activationgrid.h"
#include "widgets/channelview.h"
#include "widgets/histogramview.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSplitter>
#include <QVBoxLayout>

namespace pellucid {

ActivationPanel::ActivationPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    auto *bar = new QHBoxLayout;
    mInfo = new QLabel(tr("No activations yet"), this);
    mInfo->setObjectName("activationInfo");
    mInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
    bar->addWidget(mInfo, 1);
    bar->addWidget(new QLabel(tr("Sort:"), this));
    mSort = new QComboBox(this);
    mSort->addItems({tr("Channel index"), tr("Mean activation"), tr("Max activation")});
    bar->addWidget(mSort);
    mShared = new QCheckBox(tr("Shared scale"), this);
    mShared->setToolTip(tr("Colour all channels on the layer's common range instead of each on its own"));
    bar->addWidget(mShared);
    layout->addLayout(bar);

    auto *split = new QSplitter(Qt::Horizontal, this);
    auto *scroll = new QScrollArea(split);
    scroll->setWidgetResizable(true);
    mGrid = new ActivationGrid(scroll);
    scroll->setWidget(mGrid);
    auto *right = new QSplitter(Qt::Vertical, split);
    mChannel = new ChannelView(right);
    mHistogram = new HistogramView(right);
    split->addWidget(scroll);
    split->addWidget(right);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    connect(mSort, qOverload<int>(&QComboBox::currentIndexChanged), this,
            [this](int i) { mGrid->setSortKey(ActivationGrid::SortKey(i)); });
    connect(mShared, &QCheckBox::toggled, mGrid, &ActivationGrid::setSharedScale);
    connect(mGrid, &ActivationGrid::channelClicked, this, &ActivationPanel::showChannel);
}

QString ActivationPanel::infoText() const { return mInfo->text(); }

void ActivationPanel::clear(const QString &message)
{
    mResult.reset();
    mGrid->setActivation(TensorValue(), {});
    mChannel->clear();
    mInfo->setText(message.isEmpty() ? tr("No activations yet") : message);
    mInfo->setStyleSheet(message.isEmpty() ? QString() : "color: #b00020;");
}

void ActivationPanel::setResult(std::shared_ptr<const ActivationOutput> r)
{
    mResult = std::move(r);
    const TensorValue &a = mResult->activation;
    // Show the first batch element.
    TensorValue first = a;
    if (a.shape().size() >= 2 && a.dim(0) > 1) {
        TensorValue s = a.slice0(0);
        Shape sh = s.shape();
        sh.insert(sh.begin(), 1);
        first = TensorValue(sh, std::vector<float>(s.data(), s.data() + s.numel()));
    }
    mGrid->setActivation(first, mResult->channels);
    const auto &st = mResult->stats;
    QString info = tr("%1  %2  min %3  max %4  mean %5")
                       .arg(QString::fromStdString(mResult->layer), QString::fromStdString(shapeToString(a.shape())))
                       .arg(double(st.min), 0, 'g', 4).arg(double(st.max), 0, 'g', 4).arg(st.mean, 0, 'g', 4);
    if (st.nanCount || st.infCount) {
        info += tr("  —  %1 NaN, %2 Inf (magenta / white)").arg(st.nanCount).arg(st.infCount);
        mInfo->setStyleSheet("color: #b00020; font-weight: bold;");
    } else {
        mInfo->setStyleSheet(QString());
    }
    mInfo->setText(info);
    mHistogram->setHistogram(mResult->histogram, st, tr("Values of %1").arg(QString::fromStdString(mResult->layer)));
    int c = mGrid->selectedChannel();
    if (c < 0 || c >= mGrid->channelCount()) c = mGrid->order().empty() ? 0 : mGrid->order().front();
    mGrid->selectChannel(c);
    showChannel(c);
}

void ActivationPanel::showChannel(int c)
{
    if (!mResult) return;
    const TensorValue &a = mResult->activation;
    const QString title = a.shape().size() == 4 ? tr("%1 — channel %2").arg(QString::fromStdString(mResult->layer)).arg(c)
                                                : QString::fromStdString(mResult->layer);
    mChannel->setChannel(a, c, title);
}

} // namespace pellucid
